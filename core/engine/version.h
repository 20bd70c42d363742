#pragma once

#include <string>

namespace tokenscope {

// "TokenScope 0.1.0 (LibTorch 1.13.1, CPU)": shown by the CLI's --version and the window's About box.
std::string versionString();

// What a benchmark ran on, so that figures from two machines are never compared unknowingly.
struct MachineInfo {
    std::string cpu;           // /proc/cpuinfo "model name"
    int cores = 0;             // logical CPUs the process may use
    int intraOpThreads = 0;    // LibTorch's intra-op threads
    std::string blas;          // e.g. "OpenBLAS 0.3.21 ... (OpenMP)", or what libblas.so.3 resolved to
    std::string blasThreading; // "openmp" | "pthreads" | "sequential" | "" (not OpenBLAS)
    std::string torchVersion;  // LibTorch's version
    std::string device;        // "cpu" or the CUDA device's name
};
MachineInfo machineInfo(bool cuda);

// One line of advice when the BLAS threading is known to fight LibTorch's OpenMP threads (OpenBLAS
// built with pthreads spins its own pool beside libgomp's; measured: ViLT-B/32 batch 1 ran 4x
// slower on two cores), else "".
std::string blasAdvice(const MachineInfo& info);

// The name of the CPU kernel set OpenBLAS chose ("Haswell", "Zen", "SkylakeX", ...); "" when the BLAS
// is not OpenBLAS. Asked once.
const std::string& openblasCore();

}  // namespace tokenscope
