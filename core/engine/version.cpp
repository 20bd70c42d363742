#include "engine/version.h"

#include <torch/version.h>

#include <dlfcn.h>
#include <sched.h>

#include <fstream>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#ifdef TOKENSCOPE_CUDA_ALLOCATOR_STATS
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

namespace tokenscope {

std::string versionString() {
    std::string text = "TokenScope 0.1.0 (LibTorch " TORCH_VERSION;
    text += torch::cuda::is_available() ? ", CUDA)" : ", CPU)";
    return text;
}

namespace {

std::string cpuModel() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
    return "unknown CPU";
}

// The BLAS LibTorch calls: OpenBLAS answers openblas_get_config / openblas_get_parallel; otherwise
// the file libblas.so.3's sgemm_ comes from.
void describeBlas(MachineInfo& info) {
    using ConfigFn = char* (*)();
    using ParallelFn = int (*)();
    if (auto* config = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
        info.blas = config();
        if (auto* parallel = reinterpret_cast<ParallelFn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"))) {
            const int kind = parallel();
            info.blasThreading = kind == 2 ? "openmp" : kind == 1 ? "pthreads" : "sequential";
            info.blas += " (" + info.blasThreading + ")";
        }
        return;
    }
    Dl_info where{};
    if (void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_"); sgemm && dladdr(sgemm, &where) && where.dli_fname) {
        info.blas = where.dli_fname;
    } else {
        info.blas = "built into LibTorch (MKL or none)";
    }
}

}  // namespace

const std::string& openblasCore() {
    static const std::string core = [] {
        using CoreFn = char* (*)();
        auto* name = reinterpret_cast<CoreFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
        return name ? std::string(name()) : std::string();
    }();
    return core;
}

MachineInfo machineInfo(bool cuda) {
    MachineInfo info;
    info.cpu = cpuModel();
    cpu_set_t set;
    CPU_ZERO(&set);
    info.cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    info.intraOpThreads = at::get_num_threads();
    describeBlas(info);
    info.torchVersion = TORCH_VERSION;
    info.device = "cpu";
#ifdef TOKENSCOPE_CUDA_ALLOCATOR_STATS
    if (cuda && torch::cuda::is_available()) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, c10::cuda::current_device()) == cudaSuccess) info.device = prop.name;
    }
#else
    (void)cuda;
#endif
    return info;
}

std::string blasAdvice(const MachineInfo& info) {
    if (info.blasThreading != "pthreads" || info.cores < 2) return "";
    return "OpenBLAS runs its own pthread pool beside LibTorch's OpenMP threads and the two fight for the cores "
           "(install libopenblas0-openmp; TokenScope's executables then load it, see README 'Speed')";
}

}  // namespace tokenscope
