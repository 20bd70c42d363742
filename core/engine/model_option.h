#pragma once

// A setting of a loaded model beyond the token-reduction method: METER's fusion stream order and
// the head that answers. Families list theirs (Engine::options); the window shows each as a combo
// box and the CLI takes it as --KEY VALUE, so a family's new setting is one entry in its runtime.

#include <string>
#include <vector>

namespace tokenscope {

struct ModelOption {
    std::string key;                   // the CLI option's name: "fusion-order", "head"
    std::string label;                 // the window's label: "Fusion order"
    std::vector<std::string> choices;  // the values setOption takes
    std::string value;                 // the current one
    std::string help;                  // one line: what the choices mean
};

}  // namespace tokenscope
