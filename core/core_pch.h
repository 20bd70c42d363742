// Precompiled header of tokenscope_core and the tests that use LibTorch: one LibTorch parse per target.
#pragma once
#include <torch/torch.h>
