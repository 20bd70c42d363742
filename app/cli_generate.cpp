// tokenscope-cli commands for LLaVA-NeXT generation (issue 6).

#include "cli_common.h"

namespace tokenscope::cli {

std::vector<Command> generationCommands() { return {}; }

}  // namespace tokenscope::cli
