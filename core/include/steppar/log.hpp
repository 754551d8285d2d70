// Progress messages of the host and slices, on stderr ("steppar: ..."), one line each.
#pragma once

#include <string_view>

namespace steppar {

void log(std::string_view message);
/// Silences log() (errors are still reported by the CLI).
void set_quiet(bool quiet);

}  // namespace steppar
