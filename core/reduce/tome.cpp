#include "reduce/tome.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace tokenscope {

namespace {

void requireRank(const torch::Tensor& t, int64_t rank, const char* what) {
    if (!t.defined() || t.dim() != rank)
        throw Error(std::string("ToMe: ") + what + " must have " + std::to_string(rank) + " dimensions");
}

torch::Tensor expandIndex(const torch::Tensor& index, int64_t channels) {
    return index.unsqueeze(-1).expand({index.size(0), index.size(1), channels});  // [B, n, C]
}

c10::string_view reduceName(MergeReduce mode) {
    switch (mode) {
        case MergeReduce::Sum: return "sum";
        case MergeReduce::Mean: return "mean";
        case MergeReduce::Amax: return "amax";
    }
    return "sum";
}

// bestPartner on the CPU, row by row, with the tensor path's semantics: the extreme propagates NaN
// (then no score is near it and the first index is taken, as argmax of all-false does); the
// threshold is computed in the scores' type, as a tensor minus a scalar is.
template <typename T>
std::tuple<torch::Tensor, torch::Tensor> bestPartnerRows(const torch::Tensor& scores, bool descending, T tolerance) {
    const auto s = scores.contiguous();
    const auto cols = s.size(-1);
    auto shape = s.sizes().vec();
    shape.pop_back();
    auto best = torch::empty(shape, s.options());
    auto index = torch::empty(shape, s.options().dtype(torch::kLong));
    const auto rows = best.numel();
    const T* in = s.data_ptr<T>();
    T* bestOut = best.data_ptr<T>();
    int64_t* indexOut = index.data_ptr<int64_t>();
    for (int64_t row = 0; row < rows; ++row) {
        const T* v = in + row * cols;
        int64_t pick = 0;
        if (cols > 0) {
            T extreme = v[0];
            bool nan = std::isnan(extreme);
            for (int64_t j = 1; j < cols && !nan; ++j) {
                if (std::isnan(v[j])) nan = true;
                else if (descending ? v[j] > extreme : v[j] < extreme) extreme = v[j];
            }
            if (!nan) {
                const T threshold = descending ? static_cast<T>(extreme - tolerance) : static_cast<T>(extreme + tolerance);
                for (int64_t j = 0; j < cols; ++j) {
                    if (descending ? v[j] >= threshold : v[j] <= threshold) {
                        pick = j;
                        break;
                    }
                }
            }
        }
        indexOut[row] = pick;
        bestOut[row] = cols > 0 ? v[pick] : T(0);
    }
    return {best, index};
}

}  // namespace

std::tuple<torch::Tensor, torch::Tensor> bestPartner(const torch::Tensor& scores, bool descending) {
    double epsilon = std::numeric_limits<float>::epsilon();
    switch (scores.scalar_type()) {
        case torch::kDouble: epsilon = std::numeric_limits<double>::epsilon(); break;
        case torch::kHalf: epsilon = 1.0 / 1024; break;
        case torch::kBFloat16: epsilon = 1.0 / 128; break;
        default: break;
    }
    const double tolerance = 8 * epsilon;
    if (scores.device().is_cpu() && !scores.requires_grad() &&
        (scores.scalar_type() == torch::kFloat || scores.scalar_type() == torch::kDouble)) {
        // The same decision in one pass per row instead of seven tensor operations (the per-operation
        // cost dominates at the sizes of one image).
        return AT_DISPATCH_FLOATING_TYPES(scores.scalar_type(), "bestPartner", [&] {
            return bestPartnerRows<scalar_t>(scores, descending, static_cast<scalar_t>(tolerance));
        });
    }
    const auto extreme = descending ? scores.amax(-1, true) : scores.amin(-1, true);                  // [B, Na, 1]
    const auto near = descending ? scores >= extreme - tolerance : scores <= extreme + tolerance;  // [B, Na, Nb]
    const auto index = near.to(torch::kInt).argmax(-1);  // the first of the near-best
    return {scores.gather(-1, index.unsqueeze(-1)).squeeze(-1), index};
}

BipartiteMatch matchFromScores(const torch::Tensor& scores, int64_t tokens, int64_t r, bool descending, bool sortUnmerged) {
    BipartiteMatch match;
    match.tokens = tokens;
    match.r = r;
    match.hasClassToken = sortUnmerged;
    const auto best = bestPartner(scores, descending);
    const auto& nodeBest = std::get<0>(best);   // [B, Na]
    const auto& nodeIndex = std::get<1>(best);  // [B, Na]
    const auto edgeIdx = nodeBest.argsort(-1, descending);
    auto unmerged = edgeIdx.slice(1, r);
    match.sourceIndex = edgeIdx.slice(1, 0, r);
    match.destinationIndex = nodeIndex.gather(1, match.sourceIndex);
    match.sourceScore = nodeBest.gather(1, match.sourceIndex);
    // With a class token the reference re-sorts so the CLS stays first; without one the unmerged
    // tokens stay in best-score order.
    if (sortUnmerged) unmerged = std::get<0>(unmerged.sort(1));
    match.unmergedIndex = unmerged;
    return match;
}

BipartiteMatch bipartiteSoftMatching(const torch::Tensor& metric, int64_t r, bool classToken) {
    requireRank(metric, 3, "metric");
    BipartiteMatch match;
    match.tokens = metric.size(1);
    match.hasClassToken = classToken;
    const int64_t protectedTokens = classToken ? 1 : 0;
    match.r = std::max<int64_t>(0, std::min(r, (match.tokens - protectedTokens) / 2));
    if (match.r == 0) return match;

    torch::NoGradGuard noGrad;
    const auto normed = metric / metric.norm(2, -1, true);
    const auto a = normed.slice(1, 0, c10::nullopt, 2);  // [B, Na, C]
    const auto b = normed.slice(1, 1, c10::nullopt, 2);  // [B, Nb, C]
    auto scores = torch::matmul(a, b.transpose(-1, -2));  // [B, Na, Nb]
    if (classToken) scores.select(1, 0).fill_(-std::numeric_limits<double>::infinity());

    return matchFromScores(scores, match.tokens, match.r, /*descending=*/true, /*sortUnmerged=*/classToken);
}

torch::Tensor selectRows(const torch::Tensor& x, const torch::Tensor& index, int64_t stride, int64_t offset) {
    requireRank(x, 3, "x");
    requireRank(index, 2, "index");
    const auto b = x.size(0), n = x.size(1), c = x.size(2), k = index.size(1);
    const auto rowStart = torch::arange(b, index.options()).mul_(n).unsqueeze(1);  // [B, 1]
    auto rows = index * stride + rowStart;                                         // [B, k] rows of the table
    if (offset != 0) rows.add_(offset);
    return x.reshape({b * n, c}).index_select(0, rows.view({-1})).view({b, k, c});
}

torch::Tensor applyMerge(const BipartiteMatch& match, const torch::Tensor& x, MergeReduce mode) {
    if (match.r == 0) return x;
    requireRank(x, 3, "x");
    if (x.size(1) != match.tokens) throw Error("ToMe: merge applied to a sequence of another length");
    const auto b = x.size(0), c = x.size(2);
    const auto table = x.contiguous();                                         // one copy at most
    const auto dst = table.slice(1, 1, c10::nullopt, 2);                       // [B, Nb, C]
    const auto unm = selectRows(table, match.unmergedIndex, 2, 0);             // [B, Na - r, C] (A = even)
    const auto sources = selectRows(table, match.sourceIndex, 2, 0);           // [B, r, C]
    torch::Tensor merged;                                                      // [B, Nb, C]
    if (mode == MergeReduce::Sum && !x.is_cuda()) {
        const auto nb = dst.size(1);
        merged = dst.clone(at::MemoryFormat::Contiguous);  // never x's own storage: added to in place
        const auto rowStart = torch::arange(b, match.destinationIndex.options()).mul_(nb).unsqueeze(1);
        merged.view({b * nb, c}).index_add_(0, (match.destinationIndex + rowStart).view({-1}), sources.view({b * match.r, c}));
    } else {
        merged = dst.scatter_reduce(1, expandIndex(match.destinationIndex, c), sources, reduceName(mode),
                                    /*include_self=*/true);
    }
    return torch::cat({unm, merged}, 1);  // [B, N - r, C]
}

WeightedMerge mergeWeightedSums(const BipartiteMatch& match, const torch::Tensor& x, const torch::Tensor& size) {
    const auto c = x.size(2);
    // x·s and s merge as one tensor: one gather / scatter, the same sums per channel as two.
    const auto sums = applyMerge(match, torch::cat({x * size, size}, 2), MergeReduce::Sum);  // [B, N - r, C + 1]
    return {sums.slice(2, 0, c), sums.slice(2, c).contiguous()};
}

WeightedMerge mergeWeightedAverage(const BipartiteMatch& match, const torch::Tensor& x, const torch::Tensor& size) {
    auto out = mergeWeightedSums(match, x, size.defined() ? size : torch::ones({x.size(0), x.size(1), 1}, x.options()));
    out.x = out.x / out.size;
    return out;
}

std::pair<torch::Tensor, torch::Tensor> mergeWithMask(const BipartiteMatch& match, const torch::Tensor& x,
                                                      const torch::Tensor& mask) {
    const auto c = x.size(2);
    const auto merged = mergeWeightedAverage(match, torch::cat({x, mask.unsqueeze(-1)}, 2)).x;  // [B, N - r, C + 1]
    return {merged.slice(2, 0, c), merged.select(2, c)};
}

torch::Tensor mergeSource(const BipartiteMatch& match, const torch::Tensor& x, const torch::Tensor& source) {
    auto s = source;
    if (!s.defined()) {
        s = torch::eye(x.size(1), x.options()).unsqueeze(0).expand({x.size(0), x.size(1), x.size(1)});  // [B, N, N]
    }
    return applyMerge(match, s, MergeReduce::Amax);
}

torch::Tensor unmerge(const BipartiteMatch& match, const torch::Tensor& merged) {
    if (match.r == 0) return merged;
    requireRank(merged, 3, "merged");
    const auto unmergedLength = match.unmergedIndex.size(1);
    const auto unm = merged.slice(1, 0, unmergedLength);  // [B, Na - r, C]
    const auto dst = merged.slice(1, unmergedLength);     // [B, Nb, C]
    const auto n = merged.size(0), c = merged.size(2);
    const auto src = dst.gather(1, expandIndex(match.destinationIndex, c));  // [B, r, C]
    auto out = torch::zeros({n, match.tokens, c}, merged.options());         // [B, N, C]
    out.slice(1, 1, c10::nullopt, 2).copy_(dst);
    out.scatter_(1, expandIndex(2 * match.unmergedIndex, c), unm);
    out.scatter_(1, expandIndex(2 * match.sourceIndex, c), src);
    return out;
}

torch::Tensor mergedOrigin(const BipartiteMatch& match) {
    if (match.r == 0) return torch::Tensor();
    const auto b = match.unmergedIndex.size(0);
    const auto nb = match.tokens / 2;
    auto odd = (2 * torch::arange(nb, match.unmergedIndex.options()) + 1).unsqueeze(0).expand({b, nb});  // [B, Nb]
    return torch::cat({2 * match.unmergedIndex, odd}, 1);  // [B, N - r]
}

}  // namespace tokenscope
