//! The shape of the source tree, checked: the dependency graph of `src/` has no cycle, each
//! layer imports only from the layers below it, no model imports another model, and `nn/` holds
//! only blocks that two or more models use.
//!
//! The graph is read from the source text: every `crate::…`, `super::…` and (in the binary)
//! `oddity::…` path, resolved to the deepest module it names. A parent module and its own
//! submodules may refer to each other (a registry lists its entries, an entry uses the shared
//! trait); every other edge counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path, `["models", "alad", "networks"]`; the crate root is `[]`.
type ModPath = Vec<String>;

/// Every source file of the library and the binary, with its module path. The binary's modules
/// (`main.rs`, `cli/`) are put under a pseudo-module `cli`.
fn source_files() -> Vec<(ModPath, PathBuf)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&src, &src, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(ModPath, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap();
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            if parts == ["main"] {
                parts = vec!["cli".into()];
            }
            out.push((parts, path));
        }
    }
}

/// The paths a file names, as written after `crate::` (or `oddity::` in the binary), with
/// `super::` resolved against `module`; brace groups are expanded.
fn referenced_paths(module: &ModPath, text: &str, binary: bool) -> Vec<ModPath> {
    let code = code_of(text);
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let prefixes: &[(&str, usize)] = &[("crate::", 0), ("oddity::", 0), ("super::", 1)];
        let mut matched = false;
        for &(prefix, kind) in prefixes {
            if word_start && rest.starts_with(prefix) {
                if prefix == "oddity::" && !binary {
                    continue;
                }
                let base: ModPath = if kind == 1 {
                    // `super::` from a file module is its parent; chains of super are rare here.
                    let mut b = module.clone();
                    b.pop();
                    let mut after = &rest[prefix.len()..];
                    while let Some(r) = after.strip_prefix("super::") {
                        b.pop();
                        after = r;
                    }
                    let consumed = rest.len() - after.len();
                    expand(&b, after, &mut out);
                    i += consumed;
                    matched = true;
                    break;
                } else if prefix == "crate::" && binary {
                    // The binary's `crate::` is the binary itself (its cli modules).
                    vec!["cli".into()]
                } else {
                    vec![]
                };
                expand(&base, &rest[prefix.len()..], &mut out);
                i += prefix.len();
                matched = true;
                break;
            }
        }
        if !matched {
            i += rest.chars().next().unwrap().len_utf8();
        }
    }
    out
}

/// The code of a source file: comments dropped, and its unit tests (everything from
/// `#[cfg(test)]` on, where this crate keeps them), which may use any layer.
fn code_of(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The items a module re-exports from its submodules (`pub use child::{A, B};`): item path →
/// the submodule that defines it, so that `crate::nn::NetOptimizer` counts as a use of
/// `nn::optim`.
fn reexports(module: &ModPath, text: &str) -> BTreeMap<ModPath, ModPath> {
    let mut out = BTreeMap::new();
    // The registry's declaration lines, `module => Configuration,` inside `builtin_models! {…}`,
    // re-export each model's configuration.
    if let Some(start) = text.find("builtin_models! {") {
        let body = &text[start..];
        let body = &body[..body.find('}').unwrap_or(body.len())];
        for line in body.lines().skip(1) {
            if let Some((child, item)) = line.split_once("=>") {
                let mut from = module.clone();
                from.push(item.trim().trim_end_matches(',').to_string());
                let mut to = module.clone();
                to.push(child.trim().to_string());
                out.insert(from, to);
            }
        }
    }
    for statement in code_of(text).split(';') {
        let Some(rest) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        if rest.starts_with("crate::") || rest.starts_with("super::") {
            continue;
        }
        let mut paths = Vec::new();
        expand(module, rest.trim(), &mut paths);
        for path in paths {
            if let Some(name) = path.last() {
                let mut item = module.clone();
                item.push(name.clone());
                out.insert(item, path[..path.len() - 1].to_vec());
            }
        }
    }
    out
}

/// The module paths of `text` (what follows `prefix::`), under `base`.
fn expand(base: &ModPath, text: &str, out: &mut Vec<ModPath>) {
    if text.is_empty() {
        // The empty item after a group's trailing comma.
        return;
    }
    let mut path = base.clone();
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = k;
                    break;
                }
            }
            let inner = &group[..end];
            let mut depth = 0;
            let mut start = 0;
            for (k, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&path, inner[start..k].trim(), out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            expand(&path, inner[start..].trim(), out);
            return;
        }
        let segment: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if segment.is_empty() {
            break;
        }
        rest = &rest[segment.len()..];
        let is_module = segment.chars().next().unwrap().is_ascii_lowercase() && segment != "self";
        if segment != "self" {
            path.push(segment);
        }
        match rest.strip_prefix("::") {
            Some(r) if is_module => rest = r,
            _ => break,
        }
    }
    out.push(path);
}

/// The deepest known module `path` lies in, following re-exports.
fn resolve(
    path: &ModPath,
    modules: &BTreeSet<ModPath>,
    reexported: &BTreeMap<ModPath, ModPath>,
) -> ModPath {
    for n in (0..=path.len()).rev() {
        let prefix = path[..n].to_vec();
        if let Some(origin) = reexported.get(&prefix) {
            return resolve(origin, modules, &BTreeMap::new());
        }
        if modules.contains(&prefix) {
            return prefix;
        }
    }
    Vec::new()
}

fn is_prefix(a: &ModPath, b: &ModPath) -> bool {
    a.len() <= b.len() && b[..a.len()] == a[..]
}

/// Module → the modules it refers to (parent/child references left out).
fn module_graph() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let files = source_files();
    let modules: BTreeSet<ModPath> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut reexported = BTreeMap::new();
    for (module, path) in &files {
        reexported.extend(reexports(module, &std::fs::read_to_string(path).unwrap()));
    }
    let mut graph: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let binary = module.first().is_some_and(|m| m == "cli");
        let edges = graph.entry(module.clone()).or_default();
        for target in referenced_paths(module, &text, binary) {
            let target = resolve(&target, &modules, &reexported);
            if target.is_empty() || is_prefix(&target, module) || is_prefix(module, &target) {
                continue;
            }
            edges.insert(target);
        }
    }
    graph
}

/// A cycle of `graph`, if it has one.
fn find_cycle<N: Ord + Clone>(graph: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        n: &N,
        graph: &BTreeMap<N, BTreeSet<N>>,
        state: &mut BTreeMap<N, u8>,
        stack: &mut Vec<N>,
    ) -> Option<Vec<N>> {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|x| x == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn show(cycle: &[ModPath]) -> String {
    cycle
        .iter()
        .map(|m| m.join("::"))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The layers, top first; a module may import only from layers below its own.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["serve"],
    &["jobs", "bench", "ood"],
    &["report"],
    &["run"],
    &["train"],
    &["score"],
    &["models"],
    &["validate"],
    &["data"],
    &["nn", "metrics", "threshold", "io", "device"],
    &["conformal", "linalg"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The graph of top-level modules (`models`, `nn`, …): a file's edges become its top-level
/// module's, so that a circle through a parent module and its children shows.
fn top_level_graph(
    graph: &BTreeMap<ModPath, BTreeSet<ModPath>>,
) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut top: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (from, targets) in graph {
        let Some(f) = from.first() else { continue };
        let edges = top.entry(vec![f.clone()]).or_default();
        for t in targets.iter().filter_map(|t| t.first()) {
            if t != f {
                edges.insert(vec![t.clone()]);
            }
        }
    }
    top
}

/// No cycle among the modules of `src/`: neither between files (siblings, cousins) nor between
/// top-level modules.
#[test]
fn the_module_graph_has_no_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 40, "only {} modules found", graph.len());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", show(&cycle));
    }
    if let Some(cycle) = find_cycle(&top_level_graph(&graph)) {
        panic!("import cycle between layers: {}", show(&cycle));
    }
}

/// Imports against [`LAYERS`]: from a module in no layer, or to a layer not below.
fn layer_violations(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<String> {
    let mut violations = Vec::new();
    for (from, targets) in graph {
        let Some(top) = from.first() else { continue };
        let Some(from_layer) = layer_of(top) else {
            violations.push(format!("{} is in no layer", from.join("::")));
            continue;
        };
        for to in targets {
            let Some(to_top) = to.first() else { continue };
            if to_top == top {
                continue;
            }
            match layer_of(to_top) {
                Some(l) if l > from_layer => {}
                _ => violations.push(format!("{} → {}", from.join("::"), to.join("::"))),
            }
        }
    }
    violations
}

/// Every top-level module is in a layer and imports only from layers below it (the bench
/// feature's developer benchmarks sit beside the jobs, above the models they time).
#[test]
fn layers_import_only_downwards() {
    let violations = layer_violations(&module_graph());
    assert!(
        violations.is_empty(),
        "imports against the layers: {violations:#?}"
    );
}

/// The modules directly under `parent` (files or folders).
fn children(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>, parent: &str) -> BTreeSet<String> {
    graph
        .keys()
        .filter(|m| m.len() >= 2 && m[0] == parent)
        .map(|m| m[1].clone())
        .collect()
}

/// The modules of `models/` that are not models: the declaration and the registry.
const MODEL_INFRASTRUCTURE: &[&str] = &["registry", "spec"];

/// Imports from one model into another.
fn model_to_model(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<String> {
    let is_model = |m: &ModPath| {
        m.len() >= 2 && m[0] == "models" && !MODEL_INFRASTRUCTURE.contains(&m[1].as_str())
    };
    let mut violations = Vec::new();
    for (from, targets) in graph.iter().filter(|(m, _)| is_model(m)) {
        for to in targets {
            if is_model(to) && to[1] != from[1] {
                violations.push(format!("{} → {}", from.join("::"), to.join("::")));
            }
        }
    }
    violations
}

/// No model imports from another model: what two models share lives in `nn/`.
#[test]
fn no_model_imports_another() {
    let violations = model_to_model(&module_graph());
    assert!(violations.is_empty(), "{violations:#?}");
}

/// The `nn/` blocks used by fewer than two models and by no layer above the models.
fn single_model_blocks(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<String> {
    let models_layer = layer_of("models").unwrap();
    let mut lonely = Vec::new();
    for block in children(graph, "nn") {
        let users = users_of(
            graph,
            &vec!["nn".to_string(), block.clone()],
            &mut BTreeSet::new(),
        );
        let models: BTreeSet<&String> = users
            .iter()
            .filter(|u| u.len() >= 2 && u[0] == "models")
            .map(|u| &u[1])
            .collect();
        let above = users.iter().any(|u| {
            u.first()
                .and_then(|t| layer_of(t))
                .is_some_and(|l| l < models_layer)
        });
        if models.len() < 2 && !above {
            lonely.push(format!("nn::{block} (used by {models:?})"));
        }
    }
    lonely
}

/// Each block in `nn/` is used by two or more models (directly, or through another `nn/` block
/// that is), or by the layers above the models (training, runs).
#[test]
fn nn_holds_only_shared_blocks() {
    let lonely = single_model_blocks(&module_graph());
    assert!(
        lonely.is_empty(),
        "nn blocks with fewer than two models: {lonely:#?}"
    );
}

/// The modules that import `target`, directly or through `nn/` blocks that do.
fn users_of(
    graph: &BTreeMap<ModPath, BTreeSet<ModPath>>,
    target: &ModPath,
    seen: &mut BTreeSet<ModPath>,
) -> BTreeSet<ModPath> {
    let mut users = BTreeSet::new();
    for (from, targets) in graph {
        if targets.iter().any(|t| is_prefix(target, t)) && seen.insert(from.clone()) {
            users.insert(from.clone());
            if from.first().is_some_and(|t| t == "nn") {
                users.extend(users_of(graph, from, seen));
            }
        }
    }
    users
}

/// The checks see what is planted: a cycle, an upward import, a model importing another, a
/// block only one model uses, and re-exports through the registry's declaration lines.
#[test]
fn the_checker_finds_planted_faults() {
    let m = |s: &str| -> ModPath { s.split("::").map(String::from).collect() };
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(m(a)).or_default().insert(m(b));
            g.entry(m(b)).or_default();
        }
        g
    };
    let cycle = find_cycle(&graph(&[
        ("nn::a", "nn::b"),
        ("nn::b", "models::x"),
        ("models::x", "nn::a"),
    ]))
    .expect("a planted cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    // A parent and its child, each importing from a third module that imports the other back.
    let layered = graph(&[
        ("models::x", "nn::a"),
        ("nn::a", "data::y"),
        ("data::y", "models::z"),
    ]);
    assert!(find_cycle(&layered).is_none());
    assert!(find_cycle(&top_level_graph(&layered)).is_some());

    let upward = graph(&[("nn::ema", "models"), ("run", "models::alad")]);
    assert_eq!(layer_violations(&upward), vec!["nn::ema → models"]);
    let sideways = graph(&[
        ("models::alad", "models::egbad"),
        ("models::alad", "models::spec"),
        ("models::alad::networks", "models::alad"),
    ]);
    assert_eq!(
        model_to_model(&sideways),
        vec!["models::alad → models::egbad"]
    );
    let blocks = graph(&[
        ("models::alad", "nn::one"),
        ("models::alad", "nn::two"),
        ("models::egbad::networks", "nn::two"),
        ("train", "nn::three"),
    ]);
    assert_eq!(
        single_model_blocks(&blocks),
        vec!["nn::one (used by {\"alad\"})"]
    );

    let mut found = Vec::new();
    expand(
        &vec![],
        "models::{Detector, alad::{AladConfig, networks::Nets},}",
        &mut found,
    );
    assert_eq!(
        found,
        vec![
            m("models::Detector"),
            m("models::alad::AladConfig"),
            m("models::alad::networks::Nets")
        ]
    );
    let refs = referenced_paths(
        &m("models::alad::networks"),
        "use super::super::spec::X; // crate::run::Y",
        false,
    );
    assert_eq!(refs, vec![m("models::spec::X")]);
    let declared = reexports(
        &m("models"),
        "builtin_models! {\n    alad => AladConfig,\n}",
    );
    assert_eq!(
        declared.get(&m("models::AladConfig")),
        Some(&m("models::alad"))
    );
}
