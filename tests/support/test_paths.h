#pragma once

#include <string>

namespace tokenscope::test {

// A path under tests/data (TOKENSCOPE_TEST_DATA is set by tests/CMakeLists.txt).
inline std::string dataPath(const std::string& relative) { return std::string(TOKENSCOPE_TEST_DATA) + "/" + relative; }

}  // namespace tokenscope::test
