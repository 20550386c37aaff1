// The LoRA vocabulary shared by the loaded model and lora/: the public types
// of weightmap/lora.hpp (LoraSpec, LoraOptions, LoraTerm, LoraReport).
#pragma once

#include "weightmap/lora.hpp"
