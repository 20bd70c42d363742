#include "common/out_of_memory.h"

#include <new>

namespace tokenscope {

bool isOutOfMemory(const std::exception& e) {
    if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
    const std::string what = e.what();
    return what.find("out of memory") != std::string::npos || what.find("not enough memory") != std::string::npos ||
           what.find("bad_alloc") != std::string::npos;
}

std::string firstLine(const std::exception& e) {
    const std::string what = e.what();
    return what.substr(0, what.find('\n'));
}

}  // namespace tokenscope
