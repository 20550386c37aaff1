// What a load did (weightmap/report.hpp's LoadReport), for people
// (`weightmap load`) and tools (`--json`).
#pragma once

#include "weightmap/report.hpp"
