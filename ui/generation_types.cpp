#include "ui/generation_types.h"

namespace tokenscope {

void registerGenerationTypes()
{
    registerRunTypes();
    qRegisterMetaType<SelectionJob>();
    qRegisterMetaType<SelectionOutcome>();
    qRegisterMetaType<GenerationJob>();
    qRegisterMetaType<GenerationOutcome>();
}

}  // namespace tokenscope
