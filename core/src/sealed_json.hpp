// The nlohmann side of sealed.hpp, for the readers and writers of sealed state files.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace steppar {

/// The object's text with its seal (the field "checksum") added.
std::string seal(nlohmann::json object);
/// Checks and removes the seal of a parsed object; throws StateError naming `what` and `origin`
/// (and saying to `repair`) when it is missing or does not match.
void unseal(nlohmann::json& object, const std::string& what, const std::string& origin, const std::string& repair);

}  // namespace steppar
