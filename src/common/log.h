// The library never writes to a stream: it reports through the Logger of
// weightmap/log.hpp, a callback the embedding engine (or the CLI) installs.
#pragma once

#include "weightmap/log.hpp"
