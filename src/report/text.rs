//! Text in the report's HTML: escaping, numbers, anchors.

/// A JSON number with four decimals (integers as they are), or "–".
pub(super) fn number(v: &serde_json::Value) -> String {
    match (v.as_u64(), v.as_f64()) {
        (Some(n), _) => n.to_string(),
        (None, Some(x)) => format!("{x:.4}"),
        _ => "–".into(),
    }
}

/// An HTML id from a name: every character but ASCII letters and digits turned to `-`.
pub(super) fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Text safe inside HTML elements and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(number(&serde_json::json!(3)), "3");
        assert_eq!(number(&serde_json::json!(0.123456)), "0.1235");
        assert_eq!(number(&serde_json::Value::Null), "–");
        assert_eq!(anchor("mnist 1/a"), "mnist-1-a");
    }
}
