#pragma once

// Memory of one request by kind, counted where the bytes are allocated (torch-free plain data for
// the window and the CLI). On the CPU the figures come from TokenScope's counting allocator in front
// of LibTorch's CPU allocator; on CUDA from the caching allocator's statistics. Process RSS is kept
// apart and labelled as such: it is dominated by the weights and by what the C library keeps.
//
// Two protocols. Inference (the default): forwards run without autograd, so a layer's activations
// are freed when the next layer has them, and the peak sits in the widest layer. Autograd: forwards
// record the graph, as csarron/PuMer's cli/bench.py measures (it calls the model without
// torch.no_grad()), so every layer's saved activations stay alive until the end and the peak grows
// with the tokens of all layers.

#include <cstdint>
#include <string>
#include <vector>

namespace tokenscope {

enum class MemoryProtocol { Inference, Autograd };
inline const char* memoryProtocolName(MemoryProtocol protocol) {
    return protocol == MemoryProtocol::Autograd ? "autograd" : "inference";
}

struct MemoryReport {
    MemoryProtocol protocol = MemoryProtocol::Inference;
    std::string counter;           // "cpu-counting-allocator", "cuda-caching-allocator", or "" (none)
    int64_t weightsBytes = 0;      // parameters and buffers resident on the model's device
    int64_t activationsPeakBytes = -1;  // peak live bytes during the request minus what was live before it (-1 = unknown)
    // Where that peak was: the stage-tagged span (e.g. "layer 2", "embeddings", "head").
    std::string activationsPeakWhere;
    int activationsPeakLayer = -1;  // its layer index, -1 = not inside a layer
    std::vector<int64_t> layerActivationPeakBytes;  // per layer: the peak inside that layer, same baseline
    int64_t kvCacheBytes = 0;      // LLaVA generation: keys and values of every layer after the last step
    int64_t reservedBytes = -1;    // CUDA: bytes the caching allocator holds (-1 = not applicable)
    int64_t rssPeakBytes = 0;      // process resident-set peak during the request (not the allocator's)

    bool hasAllocatorFigures() const { return activationsPeakBytes >= 0; }
};

inline double toMiB(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace tokenscope
