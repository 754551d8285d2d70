// Messages of the engine, one line each, through this process's event sink (events.hpp): on
// stderr for a command, or to the host for a step's process.
#pragma once

#include <string_view>

namespace steppar {

void log(std::string_view message);
void warn(std::string_view message);
/// Silences log() (warnings and errors are still reported).
void set_quiet(bool quiet);
bool quiet();

}  // namespace steppar
