// A unit's definition digest: what decides a partition's outputs besides its input bytes
// (freshness.hpp says when it is compared). The ledger records it per partition, markers and
// plans carry it, and a later steppar compares it, so its bytes are steppar's own: the SHA-256,
// as lowercase hex, of the canonical encoding (canonical.hpp) of this value:
//
//   {"format": "steppar definition 2",
//    "nodes": [                                  the unit's nodes, in order
//      {"name": NAME, "function": "PLUGIN.FUNCTION", "plugin": SHA-256 of the plugin file,
//       "inputs": [...], "outputs": [...],         as written, "params:NAME" inputs included
//       "params": {"params:NAME": VALUE, ...}}],   each param input's value (any JSON value)
//    "datasets": {NAME: {"kind": "partitioned" | "file", "path": PATH, "suffix": SUFFIX,
//                        "folder_suffix": SUFFIX}, ...},   every dataset the nodes read or write
//    "files": {NAME: STAMP, ...}}                 whole-file inputs made outside the unit (a lookup
//                                                 table): their stamps as text (stamp.hpp)
//
// A partition of a unit with configurators has the digest, written the same way, of
//   {"definition": UNIT_DIGEST, "configurator": null}              when none matches it, or
//   {"definition": UNIT_DIGEST, "configurator": {"name": NAME, "data": DATA}}
// steppar used to hash nlohmann's dump() of a similar object ("ledger 1"): a ledger written
// before this encoding finds every partition "definition changed" once (README: upgrading).
#pragma once

#include "steppar/configurator.hpp"

#include <map>
#include <string>
#include <vector>

namespace steppar {

struct NodeDefinition {
    std::string name;
    std::string function;       ///< "plugin.function"
    std::string plugin_digest;  ///< SHA-256 of the plugin file's bytes
    std::vector<std::string> inputs, outputs;
    std::map<std::string, std::string> params;  ///< "params:NAME" input -> its value as JSON text
};

struct DatasetDefinition {
    std::string kind;  ///< "partitioned" or "file"
    std::string path, suffix, folder_suffix;
};

struct UnitDefinition {
    std::vector<NodeDefinition> nodes;
    std::map<std::string, DatasetDefinition> datasets;
    std::map<std::string, std::string> files;  ///< whole-file inputs from outside: stamp text
};

/// The canonical encoding of the definition (the value in the banner). Throws InputError when a
/// param value is not JSON text.
std::string definition_encoding(const UnitDefinition& definition);
/// SHA-256 hex of definition_encoding().
std::string definition_digest(const UnitDefinition& definition);
/// A partition's definition: the unit's digest with the configurator chosen for it (or none).
std::string configured_definition_digest(const std::string& unit_digest, const Configurator* chosen);

}  // namespace steppar
