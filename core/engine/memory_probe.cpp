#include "engine/memory_probe.h"

#include <torch/version.h>  // TORCH_VERSION_MAJOR / MINOR: c10::Allocator grew copy_data in 2.3

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <string>
#include <unordered_set>

#include <c10/core/CPUAllocator.h>
#include <torch/cuda.h>
#ifdef TOKENSCOPE_CUDA_ALLOCATOR_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace tokenscope {

namespace {

constexpr std::size_t kAlignment = 64;  // c10's gAlignment on x86-64
constexpr std::size_t kHeader = 64;     // keeps the data aligned; holds the size

class CountingCpuAllocator final : public c10::Allocator, public MemoryCounter {
public:
    c10::DataPtr allocate(std::size_t bytes) const override {
        if (bytes == 0) return {nullptr, nullptr, &release, c10::Device(c10::DeviceType::CPU)};
        void* base = nullptr;
        if (posix_memalign(&base, kAlignment, bytes + kHeader) != 0 || !base) {
            throw std::bad_alloc();  // LibTorch reports it as "not enough memory" upstream
        }
        *static_cast<std::size_t*>(base) = bytes;
        auto* data = static_cast<char*>(base) + kHeader;
        const auto live = s_live.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed) + static_cast<int64_t>(bytes);
        auto peak = s_peak.load(std::memory_order_relaxed);
        while (live > peak && !s_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
        }
        return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
    }
    c10::DeleterFnPtr raw_deleter() const override { return &release; }
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
    void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#endif

    int64_t liveBytes() const override { return s_live.load(std::memory_order_relaxed); }
    int64_t peakBytes() const override { return s_peak.load(std::memory_order_relaxed); }
    void resetPeak() override { s_peak.store(s_live.load(std::memory_order_relaxed), std::memory_order_relaxed); }

private:
    static void release(void* data) {
        if (!data) return;
        auto* base = static_cast<char*>(data) - kHeader;
        const auto bytes = *reinterpret_cast<std::size_t*>(base);
        s_live.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
        std::free(base);
    }
    static std::atomic<int64_t> s_live;
    static std::atomic<int64_t> s_peak;
};
std::atomic<int64_t> CountingCpuAllocator::s_live{0};
std::atomic<int64_t> CountingCpuAllocator::s_peak{0};

#ifdef TOKENSCOPE_CUDA_ALLOCATOR_STATS
// The caching allocator's statistics of one device; index 0 of each stat array is the aggregate
// over pool kinds in every LibTorch 2.x.
class CudaCounter final : public MemoryCounter {
public:
    explicit CudaCounter(c10::DeviceIndex device) : m_device(device) {}
    int64_t liveBytes() const override { return stats().allocated_bytes[0].current; }
    int64_t peakBytes() const override { return stats().allocated_bytes[0].peak; }
    void resetPeak() override { c10::cuda::CUDACachingAllocator::resetPeakStats(m_device); }
    int64_t reservedBytes() const { return stats().reserved_bytes[0].current; }

private:
    auto stats() const -> decltype(c10::cuda::CUDACachingAllocator::getDeviceStats(0)) {
        return c10::cuda::CUDACachingAllocator::getDeviceStats(m_device);
    }
    c10::DeviceIndex m_device;
};
#endif

int64_t statusBytes(const char* key) {
    std::ifstream status("/proc/self/status");
    std::string line;
    const std::string prefix = std::string(key) + ":";
    while (std::getline(status, line)) {
        if (line.rfind(prefix, 0) == 0) return static_cast<int64_t>(std::stoll(line.substr(prefix.size()))) * 1024;  // kB
    }
    return 0;
}

}  // namespace

MemoryCounter& installCountingCpuAllocator() {
    static CountingCpuAllocator* allocator = [] {
        auto* a = new CountingCpuAllocator();  // never destroyed: tensors may outlive every static
        // Priority above c10's default (0), so later default registrations do not displace it.
        c10::SetCPUAllocator(a, /*priority=*/1);
        return a;
    }();
    return *allocator;
}

MemoryCounter* memoryCounterFor(const torch::Device& device) {
    if (device.is_cpu()) return &installCountingCpuAllocator();
#ifdef TOKENSCOPE_CUDA_ALLOCATOR_STATS
    if (device.is_cuda()) {
        static std::mutex mutex;
        static std::vector<std::unique_ptr<CudaCounter>> counters;
        const std::lock_guard<std::mutex> lock(mutex);
        const auto index = static_cast<std::size_t>(std::max<int>(device.index(), 0));
        if (counters.size() <= index) counters.resize(index + 1);
        if (!counters[index]) counters[index] = std::make_unique<CudaCounter>(static_cast<c10::DeviceIndex>(index));
        return counters[index].get();
    }
#endif
    return nullptr;
}

int64_t moduleBytes(torch::nn::Module& module) {
    std::unordered_set<const void*> seen;
    int64_t bytes = 0;
    const auto add = [&](const torch::Tensor& t) {
        if (!t.defined() || !t.has_storage()) return;
        const void* key = t.storage().unsafeGetStorageImpl();
        if (!seen.insert(key).second) return;
        bytes += static_cast<int64_t>(t.storage().nbytes());
    };
    for (const auto& p : module.parameters()) add(p);
    for (const auto& b : module.buffers()) add(b);
    return bytes;
}

int64_t rssBytes() { return statusBytes("VmRSS"); }
int64_t rssPeakBytes() { return std::max(statusBytes("VmHWM"), statusBytes("VmRSS")); }

void resetRssPeak() {
    std::ofstream clear("/proc/self/clear_refs");
    if (clear) clear << "5";
}

MemoryReport memoryReport(Timeline& timeline, const torch::Device& device, MemoryProtocol protocol, int64_t weightsBytes,
                          Stage layerStage, int layers, int64_t kvCacheBytes) {
    MemoryReport report;
    report.protocol = protocol;
    report.weightsBytes = weightsBytes;
    report.kvCacheBytes = kvCacheBytes;
    report.activationsPeakBytes = timeline.peakBytes();
    report.layerActivationPeakBytes.assign(static_cast<std::size_t>(std::max(layers, 0)), -1);
    report.rssPeakBytes = rssPeakBytes();
    auto* counter = memoryCounterFor(device);
    if (!counter || report.activationsPeakBytes < 0) {
        report.activationsPeakBytes = -1;
        return report;
    }
    report.counter = device.is_cuda() ? "cuda-caching-allocator" : "cpu-counting-allocator";
#ifdef TOKENSCOPE_CUDA_ALLOCATOR_STATS
    if (device.is_cuda()) report.reservedBytes = static_cast<CudaCounter*>(counter)->reservedBytes();
#endif
    report.activationsPeakBytes = std::max<int64_t>(0, report.activationsPeakBytes - kvCacheBytes);
    int64_t best = -1;
    for (const auto& span : timeline.spans()) {
        if (span.name == "layer" && span.stage == layerStage && span.layer >= 0 && span.layer < layers) {
            auto& slot = report.layerActivationPeakBytes[static_cast<std::size_t>(span.layer)];
            slot = std::max(slot, span.peakBytes);
        }
        // The outermost span that reached the highest peak says where it was.
        if (span.depth == 0 && span.peakBytes > best) {
            best = span.peakBytes;
            report.activationsPeakWhere = span.layer >= 0 ? span.name + " " + std::to_string(span.layer) : span.name;
            report.activationsPeakLayer = span.name == "layer" && span.stage == layerStage ? span.layer : -1;
        }
    }
    return report;
}

Timeline::Options timelineOptions(const torch::Device& device, bool timings) {
    Timeline::Options options;
    options.subStages = timings;
    options.memory = memoryCounterFor(device);
    if (timings && device.is_cuda()) {
        options.synchronize = [] {
#if TORCH_VERSION_MAJOR >= 2
            torch::cuda::synchronize();
#endif
        };
    }
    return options;
}

}  // namespace tokenscope
