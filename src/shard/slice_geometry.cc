#include "shard/slice_geometry.h"

#include <fmt/format.h>

namespace wm {
namespace {

std::string shape_text(const std::vector<uint64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

struct Cut {
  uint64_t start = 0, count = 0, padded = 0;  // in elements along the sliced dimension
};

// Which units (rows, or blocks of columns) rank takes of `n` units.
Result<Cut> cut_units(uint64_t n, const SplitHow& how, uint32_t rank, uint32_t world) {
  if (n % world == 0) return Cut{rank * (n / world), n / world, 0};
  if (!how.pad) return Error{};  // the caller says why, naming the tensor
  const uint64_t per = (n + world - 1) / world;
  const uint64_t start = std::min<uint64_t>(rank * per, n);
  const uint64_t count = std::min<uint64_t>(per, n - start);
  return Cut{start, count, per - count};
}

}  // namespace

Result<TensorTable::SliceGeometry> slice_geometry(const TensorInfo& t, const SplitHow& how, uint32_t rank,
                                                  uint32_t world) {
  const DTypeInfo& d = dtype_info(t.dtype);
  auto fail = [&](std::string why) {
    return Error{{}, t.qualified_name(), t.offset,
                 fmt::format("cannot slice {} {} by {}: {}", dtype_name(t.dtype), shape_text(t.shape),
                             slice_dim_name(how.dim), why),
                 ErrorCode::kUnsupported};
  };
  if (t.shape.empty()) return fail("it has no dimensions (replicate it)");  // shard_table replicates these first
  if (t.source.whole_only()) return fail("a PyTorch non-contiguous view or compressed entry is read whole (replicate it)");
  if (t.source.gather) return fail("it is already a slice");
  const size_t last = t.shape.size() - 1;
  const size_t dim = how.dim == SliceDim::kRows ? 0 : last;
  const uint64_t n = t.shape[dim];
  // Along the innermost dimension a quantised type can only be cut between blocks.
  const uint64_t unit = dim == last ? d.block_elems : 1;
  if (n % unit != 0) return fail(fmt::format("{} elements are not whole blocks of {}", n, unit));

  Cut cut;
  if (how.range) {
    auto [a, b] = *how.range;
    if (b > n) return fail(fmt::format("range [{}:{}] is past the dimension's {}", a, b, n));
    if (a % unit != 0 || b % unit != 0)
      return fail(fmt::format("range [{}:{}] does not fall on the {}-element block boundaries of {}", a, b, unit,
                              dtype_name(t.dtype)));
    cut = {a, b - a, 0};
  } else {
    auto c = cut_units(n / unit, how, rank, world);
    if (!c) {
      if (unit > 1)
        return fail(fmt::format("its {} columns are {} blocks of {}, which do not divide among {} ranks (add ':pad' "
                                "to the rule)", n, n / unit, unit, world));
      return fail(fmt::format("{} {} do not divide among {} ranks (add ':pad' to the rule)", n,
                              dim == 0 ? "rows" : "columns", world));
    }
    cut = {c->start * unit, c->count * unit, c->padded * unit};
  }

  TensorTable::SliceGeometry g;
  g.shape = t.shape;
  g.shape[dim] = cut.count + cut.padded;
  g.slice = {how.dim, cut.start, cut.count, cut.padded, t.shape};
  if (t.nbytes == 0) {  // some dimension is 0, and stays 0 in the slice: nothing to read
    g.offset = t.offset;
    g.nbytes = 0;
    return g;
  }
  // Bytes per step along `dim`, and how many rows of the outer dimensions it repeats in.
  uint64_t outer_rows = 1, unit_bytes = 0;
  if (dim == 0 && last > 0) {
    unit_bytes = t.nbytes / n;  // a row (unit is 1 here): whole blocks of everything inside it
  } else {
    for (size_t k = 0; k < last; ++k) outer_rows *= t.shape[k];
    unit_bytes = d.block_bytes;  // per `unit` elements
  }
  const uint64_t skip = cut.start / unit * unit_bytes, take = cut.count / unit * unit_bytes;
  const uint64_t out = (cut.count + cut.padded) / unit * unit_bytes;
  g.offset = cut.count ? t.offset + skip : t.offset;
  if (dim == 0 && last > 0) {  // rows: one range, then zero rows
    g.nbytes = out;
    if (cut.padded) g.gather = SourceLayout::Gather{1, take, 0, out};
    return g;
  }
  // Columns (or the one dimension of a 1-D tensor): a segment of every row.
  const uint64_t full_row = t.nbytes / outer_rows;
  g.nbytes = outer_rows * out;
  if (cut.padded || (outer_rows > 1 && take != full_row)) g.gather = SourceLayout::Gather{outer_rows, take, full_row, out};
  return g;
}

}  // namespace wm
