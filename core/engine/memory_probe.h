#pragma once

// Core-internal: the allocator counters behind MemoryReport (engine/memory.h), one probe for every
// model family.
//
// CPU: installCountingCpuAllocator() puts a counting allocator in front of LibTorch's CPU allocator
// (c10::SetCPUAllocator): every CPU tensor allocated afterwards adds its size to a process-wide live
// count and a resettable peak; its deleter subtracts it. Memory is taken with posix_memalign at
// c10's alignment (64 bytes) plus a 64-byte header that holds the size, so the pointer handed out
// is the data pointer itself (as c10's own allocator does) and raw allocation works. Tensors that
// existed before the installation are freed by their own deleters and never counted.
//
// CUDA: the caching allocator's statistics (allocated bytes current and peak, reserved bytes), when
// this LibTorch has CUDA; otherwise cudaCounter() returns nullptr.

#include <cstdint>

#include <torch/torch.h>

#include "engine/memory.h"
#include "engine/timeline.h"

namespace tokenscope {

// Idempotent and thread-safe; returns the CPU counter.
MemoryCounter& installCountingCpuAllocator();
// The counter of a device: CPU -> the counting allocator (installed on first use); CUDA -> the
// caching allocator's statistics (nullptr when LibTorch lacks CUDA support).
MemoryCounter* memoryCounterFor(const torch::Device& device);

// Bytes of the module's parameters and buffers (each storage once).
int64_t moduleBytes(torch::nn::Module& module);

// Process resident set: now, and the peak since resetRssPeak() (Linux /proc/self; 0 elsewhere).
int64_t rssBytes();
int64_t rssPeakBytes();
void resetRssPeak();

// The report of a request that ran under `timeline` (read right after the request, before anything
// else allocates): weights as given, the activation peak and where it was, the peak inside every
// span named "layer" of `layerStage` (0..layers-1; missing ones -1), the KV cache (subtracted from the
// activation peak: it is reported on its own), the counter's name, the RSS peak since resetRssPeak().
MemoryReport memoryReport(Timeline& timeline, const torch::Device& device, MemoryProtocol protocol, int64_t weightsBytes,
                          Stage layerStage, int layers, int64_t kvCacheBytes = 0);
// Timeline options for a request on `device`: allocator windows always; sub-layer spans and device
// barriers (CUDA) only when timings were asked for.
Timeline::Options timelineOptions(const torch::Device& device, bool timings);

}  // namespace tokenscope
