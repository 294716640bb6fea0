//! 2-D convolution kernels as im2row + GEMM over blocks of positions: the forward pass (used
//! for a transposed convolution's input gradient), the input gradient and the weight gradient.
//!
//! Patch to burn-flex 0.22.1 (see `PATCH.md` at the crate root). Without it, burn-backend's
//! default backward derives a convolution's weight gradient as another convolution with the batch
//! and channel axes swapped: its "batch" is the input channels, its "kernel" the whole output
//! map, so flex runs it as one long single-tile GEMM per input channel after single-threaded
//! layout copies. Here every kernel is a GEMM over receptive fields:
//!
//! - `rows[r][(c, i, j)]` (im2row) holds the input under kernel tap `(i, j)` of channel `c` at
//!   the block's `r`-th output position, zero in the padding. A block gathers whole images until
//!   it has at least [`TARGET_ROWS`] positions (small maps), or a tile of one image's positions
//!   (large maps); its two buffers together stay under [`ROWS_BUDGET`] elements;
//! - forward, per group: `y[c_out, R] = W[c_out, K] · rowsᵀ`;
//! - input gradient, per group: `drows[R, K] = dY[c_out, R]ᵀ · W[c_out, K]`, added back onto the
//!   images (row2im);
//! - weight gradient, per group: `dW += dY[c_out, R] · rows[R, K]`.
//!
//! The batch is split into one contiguous range of images per thread; each thread runs its
//! blocks with single-threaded GEMMs, and the weight gradient's per-thread sums are added in a
//! fixed order. Results depend on the thread count (it sets the blocks), not on scheduling.
//!
//! A transposed convolution is a convolution seen from its output, so its input gradient is
//! this forward kernel and its weight gradient this weight-gradient kernel, with input and
//! output exchanged. f32 and f64 run natively; f16 and bf16 through f32.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape, bf16, f16};
use core::ops::{AddAssign, Range};
use num_traits::{One, Zero};

use super::module::{cast_from_f32, cast_to_f32};
use crate::{FlexTensor, Layout};

/// Positions one GEMM block aims at when images are small: enough rows for the GEMM to run
/// near its large-matrix speed.
const TARGET_ROWS: usize = 256;

/// Most elements of one block's two buffers together (16 MiB of f32).
const ROWS_BUDGET: usize = 1 << 22;

/// The element types with native kernels (f32, f64).
trait Native: bytemuck::Pod + burn_backend::Element + Zero + One + AddAssign + Send + Sync {
    /// Runs `f` with this thread's two scratch buffers, kept between calls: large buffers
    /// allocated and freed on every call cost page faults and cross-thread TLB shootdowns,
    /// about a fifth of a layer's time in a profile. The buffers never shrink: each thread keeps
    /// up to [`ROWS_BUDGET`] elements per type.
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>, &mut Vec<Self>) -> R) -> R;
}

macro_rules! native {
    ($t:ty) => {
        impl Native for $t {
            fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>, &mut Vec<Self>) -> R) -> R {
                #[cfg(feature = "std")]
                {
                    use core::cell::RefCell;
                    std::thread_local! {
                        static SCRATCH: RefCell<(Vec<$t>, Vec<$t>)> =
                            const { RefCell::new((Vec::new(), Vec::new())) };
                    }
                    SCRATCH.with(|cell| match cell.try_borrow_mut() {
                        Ok(mut pair) => {
                            let (a, b) = &mut *pair;
                            f(a, b)
                        }
                        // Re-entered on this thread: fresh buffers.
                        Err(_) => f(&mut Vec::new(), &mut Vec::new()),
                    })
                }
                #[cfg(not(feature = "std"))]
                f(&mut Vec::new(), &mut Vec::new())
            }
        }
    };
}
native!(f32);
native!(f64);

/// A 2-D convolution seen from its input: `input [batch, c_in, h_in, w_in]` is read through a
/// `kh × kw` kernel into `output [batch, c_out, h_out, w_out]`.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    c_in: usize,
    h_in: usize,
    w_in: usize,
    c_out: usize,
    h_out: usize,
    w_out: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    /// Padding before the first row and column (the end padding only shows in `h_out`/`w_out`).
    pad: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

/// Consecutive output positions `first..first + count` of one image, placed in a block.
#[derive(Clone, Copy, Debug)]
struct Segment {
    image: usize,
    first: usize,
    count: usize,
}

impl Geometry {
    /// Length of one receptive-field row, every group's channels together.
    fn row_len(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Length of one group's part of a receptive-field row (a weight row).
    fn group_row_len(&self) -> usize {
        self.row_len() / self.groups
    }

    fn out_per_group(&self) -> usize {
        self.c_out / self.groups
    }

    fn positions(&self) -> usize {
        self.h_out * self.w_out
    }

    fn input_image_len(&self) -> usize {
        self.c_in * self.h_in * self.w_in
    }

    fn output_image_len(&self) -> usize {
        self.c_out * self.positions()
    }

    /// Most positions in one block: its receptive fields and its output-side values
    /// (`row_len + c_out` elements a position) within the budget.
    fn max_block_rows(&self) -> usize {
        (ROWS_BUDGET / (self.row_len() + self.c_out).max(1)).max(1)
    }

    /// Panics unless the operands' lengths are those of this geometry, and the groups divide
    /// both channel counts: the GEMMs below address the buffers through raw pointers.
    fn check(&self, input: usize, weight: usize, output: usize) {
        assert!(
            self.groups > 0 && self.c_in % self.groups == 0 && self.c_out % self.groups == 0,
            "convolution: {} groups do not divide {} input and {} output channels",
            self.groups,
            self.c_in,
            self.c_out
        );
        let expected = [
            self.batch * self.input_image_len(),
            self.c_out * self.group_row_len(),
            self.batch * self.output_image_len(),
        ];
        assert_eq!(
            [input, weight, output],
            expected,
            "convolution: operand lengths (input, weight, output) do not match {self:?}"
        );
    }

    /// Images per thread: the batch in one contiguous range per thread.
    fn images_per_task(&self) -> usize {
        self.batch.div_ceil(threads()).max(1)
    }

    /// The blocks of `images`, in order: whole images together until a block has at least
    /// [`TARGET_ROWS`] positions (within the budget), or one image's positions cut into tiles
    /// when one image passes the budget.
    fn blocks(&self, images: Range<usize>) -> Vec<Vec<Segment>> {
        let positions = self.positions();
        let most = self.max_block_rows();
        if positions == 0 {
            return Vec::new();
        }
        if positions > most {
            let tile = |image| {
                (0..positions).step_by(most).map(move |first| {
                    vec![Segment {
                        image,
                        first,
                        count: most.min(positions - first),
                    }]
                })
            };
            return images.flat_map(tile).collect();
        }
        let per_block = TARGET_ROWS
            .div_ceil(positions.max(1))
            .clamp(1, most / positions.max(1));
        let images: Vec<usize> = images.collect();
        images
            .chunks(per_block)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|&image| Segment {
                        image,
                        first: 0,
                        count: positions,
                    })
                    .collect()
            })
            .collect()
    }

    /// Walks the receptive field of output position `p` one kernel row (channel `c`, tap row
    /// `i`) at a time, calling `visit(index in row, span)`: a kernel row wholly in the padding,
    /// or wholly inside the input with dilation 1 (its taps are consecutive input elements), is
    /// one span; any other is visited tap by tap.
    #[inline(always)]
    fn receptive_field(&self, p: usize, mut visit: impl FnMut(usize, Span)) {
        let (oh, ow) = (p / self.w_out, p % self.w_out);
        let (plane, kw) = (self.h_in * self.w_in, self.kw);
        // Wrapping: a position in the left or top padding becomes huge and fails the bounds.
        let iw0 = (ow * self.stride[1]).wrapping_sub(self.pad[1]);
        let last = iw0.wrapping_add((kw - 1) * self.dilation[1]);
        let consecutive =
            self.dilation[1] == 1 && iw0 < self.w_in && last < self.w_in && iw0 <= last;
        let mut col = 0;
        for c in 0..self.c_in {
            for i in 0..self.kh {
                let ih = (oh * self.stride[0] + i * self.dilation[0]).wrapping_sub(self.pad[0]);
                if ih >= self.h_in {
                    visit(col, Span::Zeros(kw));
                } else if consecutive {
                    visit(col, Span::Run(c * plane + ih * self.w_in + iw0, kw));
                } else {
                    for j in 0..kw {
                        let iw = iw0.wrapping_add(j * self.dilation[1]);
                        let at = (iw < self.w_in).then(|| c * plane + ih * self.w_in + iw);
                        visit(col + j, Span::Tap(at));
                    }
                }
                col += kw;
            }
        }
    }
}

/// Part of a receptive-field row, as `Geometry::receptive_field` visits it.
#[derive(Clone, Copy)]
enum Span {
    /// This many taps in the padding.
    Zeros(usize),
    /// This many taps on consecutive input elements from this flat index.
    Run(usize, usize),
    /// One tap: its flat input index, or None in the padding.
    Tap(Option<usize>),
}

/// `n` zeros written into fresh memory. `vec![0; n]` takes zeroed pages from the allocator,
/// which the kernel maps lazily to a shared zero page: the first addition into each page
/// (row2im, an accumulating GEMM) then faults on a read-only page and flushes the other
/// threads' TLBs, which showed as ≈ 18 % of a layer's time in a profile.
fn written_zeros<T: Native>(n: usize) -> Vec<T> {
    let mut zeros = Vec::with_capacity(n);
    zeros.resize(n, T::zero());
    zeros
}

/// Rows of a block in total.
fn block_rows(block: &[Segment]) -> usize {
    block.iter().map(|s| s.count).sum()
}

/// `dst = src`, inlined for the kernel widths of image models: a span is one kernel row, a few
/// elements, where a call to `memcpy` costs more than the copy.
#[inline(always)]
fn copy_span<T: Copy>(dst: &mut [T], src: &[T]) {
    #[inline(always)]
    fn fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
        let src: &[T; N] = src.try_into().unwrap();
        let dst: &mut [T; N] = dst.try_into().unwrap();
        *dst = *src;
    }
    match dst.len() {
        1 => dst[0] = src[0],
        2 => fixed::<T, 2>(dst, src),
        3 => fixed::<T, 3>(dst, src),
        4 => fixed::<T, 4>(dst, src),
        5 => fixed::<T, 5>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Receptive fields of positions `first..first + rows.len() / row_len` of one image.
fn im2row<T: Native>(image: &[T], g: &Geometry, first: usize, rows: &mut [T]) {
    let len = g.row_len();
    for (r, row) in rows.chunks_exact_mut(len).enumerate() {
        g.receptive_field(first + r, |col, span| match span {
            Span::Zeros(n) => row[col..col + n].iter_mut().for_each(|v| *v = T::zero()),
            Span::Run(at, n) => copy_span(&mut row[col..col + n], &image[at..at + n]),
            Span::Tap(at) => row[col] = at.map_or(T::zero(), |at| image[at]),
        });
    }
}

/// Adds receptive-field rows of positions `first..` back onto one image (the adjoint of im2row).
fn row2im<T: Native>(rows: &[T], g: &Geometry, first: usize, image: &mut [T]) {
    let len = g.row_len();
    for (r, row) in rows.chunks_exact(len).enumerate() {
        g.receptive_field(first + r, |col, span| match span {
            Span::Zeros(_) | Span::Tap(None) => {}
            Span::Run(at, n) => {
                let taps = image[at..at + n].iter_mut().zip(&row[col..col + n]);
                taps.for_each(|(pixel, value)| *pixel += *value);
            }
            Span::Tap(Some(at)) => image[at] += row[col],
        });
    }
}

/// The block's receptive fields, `[rows, row_len]`, from `input [batch, c_in, h_in, w_in]`.
fn gather_rows<T: Native>(input: &[T], g: &Geometry, block: &[Segment], rows: &mut [T]) {
    let (len, image_len) = (g.row_len(), g.input_image_len());
    let mut r = 0;
    for s in block {
        let image = &input[s.image * image_len..][..image_len];
        im2row(image, g, s.first, &mut rows[r * len..(r + s.count) * len]);
        r += s.count;
    }
}

/// The block's output-side values, `[c_out, rows]`, from `[batch, c_out, positions]`.
fn gather_outputs<T: Native>(grad: &[T], g: &Geometry, block: &[Segment], dst: &mut [T]) {
    let (rows, positions) = (block_rows(block), g.positions());
    for c in 0..g.c_out {
        let mut r = 0;
        for s in block {
            let from = (s.image * g.c_out + c) * positions + s.first;
            dst[c * rows + r..][..s.count].copy_from_slice(&grad[from..][..s.count]);
            r += s.count;
        }
    }
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]` on raw strided matrices, single-threaded (the callers
/// parallelise over images). Strides are (row, column) in elements.
///
/// # Safety
/// Every addressed element must lie inside its buffer, and `dst` must not alias the operands.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: Native>(
    [m, n, k]: [usize; 3],
    dst: *mut T,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const T,
    [lhs_rs, lhs_cs]: [usize; 2],
    rhs: *const T,
    [rhs_rs, rhs_cs]: [usize; 2],
) {
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn threads() -> usize {
    #[cfg(feature = "rayon")]
    return rayon::current_num_threads().max(1);
    #[cfg(not(feature = "rayon"))]
    1
}

/// Runs `task(images, that task's slice of out)` for one contiguous range of images per
/// thread, in parallel where rayon is on; `out` holds `task_len` elements a task.
fn per_task<T: Native>(
    g: &Geometry,
    out: &mut [T],
    task_len: usize,
    task: impl Fn(Range<usize>, &mut [T]) + Sync + Send,
) {
    let images_per_task = g.images_per_task();
    let run = |(t, chunk): (usize, &mut [T])| {
        let first = t * images_per_task;
        task(first..(first + images_per_task).min(g.batch), chunk)
    };
    let chunk = task_len.max(1);
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk).enumerate().for_each(run);
    }
    #[cfg(not(feature = "rayon"))]
    out.chunks_mut(chunk).enumerate().for_each(run);
}

/// The output `[batch, c_out, h_out, w_out]` of the convolution of `input` by `weight`.
fn forward<T: Native>(input: &[T], weight: &[T], g: &Geometry) -> Vec<T> {
    let (len, group_len, out_g) = (g.row_len(), g.group_row_len(), g.out_per_group());
    let (positions, out_len) = (g.positions(), g.output_image_len());
    let mut out = vec![T::zero(); g.batch * out_len];
    per_task(g, &mut out, g.images_per_task() * out_len, |images, out| {
        let offset = images.start;
        T::with_scratch(|rows, block_out| {
            for block in g.blocks(images) {
                let count = block_rows(&block);
                rows.resize(count * len, T::zero());
                block_out.resize(g.c_out * count, T::zero());
                gather_rows(input, g, &block, rows);
                for group in 0..g.groups {
                    // SAFETY: `Geometry::check` matched the operands to `g`, the scratch
                    // buffers hold `count` rows: each group's offset plus extent stays inside.
                    unsafe {
                        gemm_into(
                            [out_g, count, group_len],
                            block_out.as_mut_ptr().add(group * out_g * count),
                            count,
                            false,
                            weight.as_ptr().add(group * out_g * group_len),
                            [group_len, 1],
                            rows.as_ptr().add(group * group_len),
                            [1, len],
                        );
                    }
                }
                for c in 0..g.c_out {
                    let mut r = 0;
                    for s in &block {
                        let to = ((s.image - offset) * g.c_out + c) * positions + s.first;
                        out[to..][..s.count]
                            .copy_from_slice(&block_out[c * count + r..][..s.count]);
                        r += s.count;
                    }
                }
            }
        });
    });
    out
}

/// ∂L/∂input `[batch, c_in, h_in, w_in]` from the weight and the output gradient.
fn input_grad<T: Native>(weight: &[T], grad: &[T], g: &Geometry) -> Vec<T> {
    let (len, group_len, out_g) = (g.row_len(), g.group_row_len(), g.out_per_group());
    let image_len = g.input_image_len();
    let mut out = written_zeros(g.batch * image_len);
    per_task(
        g,
        &mut out,
        g.images_per_task() * image_len,
        |images, out| {
            let offset = images.start;
            T::with_scratch(|rows, block_grad| {
                for block in g.blocks(images) {
                    let count = block_rows(&block);
                    rows.resize(count * len, T::zero());
                    block_grad.resize(g.c_out * count, T::zero());
                    gather_outputs(grad, g, &block, block_grad);
                    for group in 0..g.groups {
                        // SAFETY: `Geometry::check` matched the operands to `g`, the scratch
                        // buffers hold `count` rows: each group's offset plus extent stays inside.
                        unsafe {
                            gemm_into(
                                [count, group_len, out_g],
                                rows.as_mut_ptr().add(group * group_len),
                                len,
                                false,
                                block_grad.as_ptr().add(group * out_g * count),
                                [1, count],
                                weight.as_ptr().add(group * out_g * group_len),
                                [group_len, 1],
                            );
                        }
                    }
                    let mut r = 0;
                    for s in &block {
                        let image = &mut out[(s.image - offset) * image_len..][..image_len];
                        row2im(&rows[r * len..(r + s.count) * len], g, s.first, image);
                        r += s.count;
                    }
                }
            });
        },
    );
    out
}

/// ∂L/∂W `[c_out, c_in / groups, kh, kw]` from the input and the output gradient.
fn weight_grad<T: Native>(input: &[T], grad: &[T], g: &Geometry) -> Vec<T> {
    let (len, group_len, out_g) = (g.row_len(), g.group_row_len(), g.out_per_group());
    let size = g.c_out * group_len;
    let tasks = g.batch.div_ceil(g.images_per_task()).max(1);
    // One accumulator per task, then summed into the first in task order.
    let mut partials: Vec<T> = written_zeros(tasks * size);
    per_task(g, &mut partials, size, |images, acc| {
        T::with_scratch(|rows, block_grad| {
            for block in g.blocks(images) {
                let count = block_rows(&block);
                rows.resize(count * len, T::zero());
                block_grad.resize(g.c_out * count, T::zero());
                gather_rows(input, g, &block, rows);
                gather_outputs(grad, g, &block, block_grad);
                for group in 0..g.groups {
                    // SAFETY: `Geometry::check` matched the operands to `g`, the scratch
                    // buffers hold `count` rows: each group's offset plus extent stays inside.
                    unsafe {
                        gemm_into(
                            [out_g, group_len, count],
                            acc.as_mut_ptr().add(group * out_g * group_len),
                            group_len,
                            true,
                            block_grad.as_ptr().add(group * out_g * count),
                            [count, 1],
                            rows.as_ptr().add(group * group_len),
                            [len, 1],
                        );
                    }
                }
            }
        });
    });
    let (total, rest) = partials.split_at_mut(size);
    for part in rest.chunks(size.max(1)) {
        total.iter_mut().zip(part).for_each(|(t, p)| *t += *p);
    }
    partials.truncate(size);
    partials
}

fn len(t: &FlexTensor) -> usize {
    t.layout().shape().num_elements()
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    [s[0], s[1], s[2], s[3]]
}

/// The geometry of `conv2d(x, weight)` whose output gradient is `grad`.
fn conv2d_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    o: &ConvOptions<2>,
) -> Geometry {
    let [batch, c_in, h_in, w_in] = dims4(x);
    let [c_out, _, kh, kw] = dims4(weight);
    let [_, _, h_out, w_out] = dims4(grad);
    Geometry {
        batch,
        c_in,
        h_in,
        w_in,
        c_out,
        h_out,
        w_out,
        kh,
        kw,
        stride: o.stride,
        pad: o.padding_begin(),
        dilation: o.dilation,
        groups: o.groups,
    }
}

/// The convolution that reads `conv_transpose2d(x, weight)`'s output gradient `grad` back onto
/// `x`'s positions: its input is `grad`, its output has `x`'s shape.
fn conv_transpose2d_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    o: &ConvTransposeOptions<2>,
) -> Geometry {
    let [batch, c_x, h_x, w_x] = dims4(x);
    let [_, _, kh, kw] = dims4(weight);
    let [_, c_y, h_y, w_y] = dims4(grad);
    Geometry {
        batch,
        c_in: c_y,
        h_in: h_y,
        w_in: w_y,
        c_out: c_x,
        h_out: h_x,
        w_out: w_x,
        kh,
        kw,
        stride: o.stride,
        pad: o.padding,
        dilation: o.dilation,
        groups: o.groups,
    }
}

/// A kernel on two contiguous operands: `forward`, `input_grad` or `weight_grad`.
type Kernel<T> = fn(&[T], &[T], &Geometry) -> Vec<T>;

/// Runs the kernel for `a`'s dtype on contiguous `a` and `b` (f16 and bf16 through f32) and
/// returns a tensor of `shape`.
fn run_in_dtype(
    a: FlexTensor,
    b: FlexTensor,
    g: &Geometry,
    shape: Shape,
    kernel32: Kernel<f32>,
    kernel64: Kernel<f64>,
) -> FlexTensor {
    let (a, b) = (a.to_contiguous(), b.to_contiguous());
    match a.dtype() {
        DType::F32 => {
            let out = kernel32(a.storage(), b.storage(), g);
            FlexTensor::new(
                Bytes::from_elems(out),
                Layout::contiguous(shape),
                DType::F32,
            )
        }
        DType::F64 => {
            let out = kernel64(a.storage(), b.storage(), g);
            FlexTensor::new(
                Bytes::from_elems(out),
                Layout::contiguous(shape),
                DType::F64,
            )
        }
        DType::F16 => {
            let (a, b) = (cast_to_f32(a, f16::to_f32), cast_to_f32(b, f16::to_f32));
            cast_from_f32(
                run_in_dtype(a, b, g, shape, kernel32, kernel64),
                f16::from_f32,
            )
        }
        DType::BF16 => {
            let (a, b) = (cast_to_f32(a, bf16::to_f32), cast_to_f32(b, bf16::to_f32));
            cast_from_f32(
                run_in_dtype(a, b, g, shape, kernel32, kernel64),
                bf16::from_f32,
            )
        }
        dtype => panic!("convolution backward: unsupported dtype {dtype:?}"),
    }
}

/// `conv2d`'s weight gradient.
pub fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let g = conv2d_geometry(&x, &weight, &grad, options);
    g.check(len(&x), len(&weight), len(&grad));
    let shape = weight.layout().shape().clone();
    run_in_dtype(x, grad, &g, shape, weight_grad::<f32>, weight_grad::<f64>)
}

/// `conv2d`'s input gradient.
pub fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let g = conv2d_geometry(&x, &weight, &grad, options);
    g.check(len(&x), len(&weight), len(&grad));
    let shape = x.layout().shape().clone();
    run_in_dtype(
        weight,
        grad,
        &g,
        shape,
        input_grad::<f32>,
        input_grad::<f64>,
    )
}

/// `conv_transpose2d`'s weight gradient: the convolution kernel with `grad` as its input and `x`
/// as its output gradient.
pub fn conv_transpose2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let g = conv_transpose2d_geometry(&x, &weight, &grad, options);
    g.check(len(&grad), len(&weight), len(&x));
    let shape = weight.layout().shape().clone();
    run_in_dtype(grad, x, &g, shape, weight_grad::<f32>, weight_grad::<f64>)
}

/// `conv_transpose2d`'s input gradient: the convolution of the output gradient by the same
/// weight, onto the input's positions (recovered from the output size and the options).
pub fn conv_transpose2d_x_backward(
    weight: FlexTensor,
    grad: FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let [batch, c_y, h_y, w_y] = dims4(&grad);
    let [c_x, _, kh, kw] = dims4(&weight);
    // Invert h_y = (h_x − 1)·s − 2p + d·(k − 1) + padding_out + 1.
    let input_size = |a: usize, size: usize, k: usize| {
        let span = options.dilation[a] * (k - 1) + options.padding_out[a] + 1;
        (size + 2 * options.padding[a]).saturating_sub(span) / options.stride[a] + 1
    };
    let g = Geometry {
        batch,
        c_in: c_y,
        h_in: h_y,
        w_in: w_y,
        c_out: c_x,
        h_out: input_size(0, h_y, kh),
        w_out: input_size(1, w_y, kw),
        kh,
        kw,
        stride: options.stride,
        pad: options.padding,
        dilation: options.dilation,
        groups: options.groups,
    };
    g.check(len(&grad), len(&weight), g.batch * g.output_image_len());
    let shape = Shape::new([batch, c_x, g.h_out, g.w_out]);
    run_in_dtype(grad, weight, &g, shape, forward::<f32>, forward::<f64>)
}
