// The nlohmann side of canonical.hpp: a parsed JSON value written in the canonical encoding, for
// the seals of state files and the values held as JSON text (params, configurator data).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace steppar {

/// Appends the canonical encoding (canonical.hpp) of `value`. Throws std::invalid_argument for
/// what JSON has no word for (nlohmann's binary values, a discarded parse).
void append_canonical(std::string& out, const nlohmann::json& value);

}  // namespace steppar
