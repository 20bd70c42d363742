#pragma once

#include <string>

namespace tokenscope {

// "TokenScope 0.1.0 (LibTorch 1.13.1, CPU)": shown by the CLI's --version and the window's About box.
std::string versionString();

}  // namespace tokenscope
