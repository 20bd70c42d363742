// tokenscope-cli commands for the built-in tasks: training and evaluation (issue 5).

#include "cli_common.h"

namespace tokenscope::cli {

std::vector<Command> taskCommands() { return {}; }

}  // namespace tokenscope::cli
