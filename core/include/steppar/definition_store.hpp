// Definition parts, kept by their digest: the ledger records only a definition's SHA-256 per
// partition (definition.hpp), which says *that* a definition changed; the parts say *what*
// changed (a param, a plugin, a function, a dataset's settings, a configurator), for `plan`,
// `run` and `why`. Each slicer writes the parts of the definitions it plans with, once:
//
//   <state>/units/<u>/definitions/<sha256>.json
//     a unit's definition:  {"kind": "unit", "nodes": [{"name", "function", "plugin": SHA-256,
//                            "plugin_name", "plugin_version", "plugin_file", "inputs", "outputs",
//                            "params": {"params:NAME": VALUE}}], "datasets": {...}, "files": {...}}
//     a partition's, with its configurator:
//                           {"kind": "configured", "definition": UNIT_SHA256,
//                            "configurator": null | {"name": NAME, "data": DATA}}
//
// The digest names the file, so a file never changes once written; what the digest does not
// cover (the plugin's name, version and path) is there to be shown. A ledger written before
// parts were kept has none: its changes are said without detail ("definition-changed").
#pragma once

#include "steppar/configurator.hpp"
#include "steppar/definition.hpp"
#include "steppar/state.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

/// What of a definition changed, as bits: a reason code names them (definition-changed:params).
enum DefinitionPart : std::uint8_t {
    part_params = 1,    ///< a param value a node reads
    part_plugin = 2,    ///< a plugin file's bytes (rebuilt, upgraded)
    part_function = 4,  ///< a node's function, name, inputs or outputs
    part_settings = 8,  ///< a dataset's path or suffix, a whole-file input, the configurator
};
/// "params+plugin" (in this order: params, plugin, function, settings); "" for none.
std::string definition_part_names(std::uint8_t parts);

/// Shown beside a plugin's digest: not part of it.
struct PluginShown {
    std::string name, version, file;
};

/// The JSON text of a unit's parts (see the banner); `plugins` per node, in order.
std::string unit_parts_json(const UnitDefinition& definition, const std::vector<PluginShown>& plugins);
/// The JSON text of a partition's configured definition.
std::string configured_parts_json(const std::string& unit_digest, const Configurator* chosen);

/// Writes the parts of `digest` unless they are there already (atomically; a failure to write
/// them only costs detail later, so it is not an error).
void remember_definition(const StateLayout& state, std::string_view unit, const std::string& digest, const std::string& parts_json);
/// The parts of `digest`, or nothing when they were never kept (or cannot be read).
std::optional<std::string> recall_definition(const StateLayout& state, std::string_view unit, const std::string& digest);

/// The parts of a unit's definitions by digest: those of now (given, not yet written), then
/// those kept in the state folder.
class DefinitionParts {
public:
    DefinitionParts(const StateLayout& state, std::string unit) : state_(state), unit_(std::move(unit)) {}
    void add(const std::string& digest, std::string parts_json) { now_.emplace(digest, std::move(parts_json)); }
    bool has(const std::string& digest) const { return now_.count(digest) > 0; }
    const std::map<std::string, std::string>& added() const noexcept { return now_; }
    std::optional<std::string> find(const std::string& digest) const;

    /// Which parts differ from `before` to `now` (digests); 0 when they cannot be told apart
    /// (parts never kept).
    std::uint8_t difference(const std::string& before, const std::string& now) const;
    /// The changes in words, one per thing that changed, each after its part: "params:
    /// params:min_length 5 -> 6", "plugin: node 'count' plugin '.../builtin.so' rebuilt (other
    /// bytes, same version 0.1.0)", "function: node 'count' function \"builtin.wc\" -> ...",
    /// "settings: dataset 'docs' path data -> data2", "settings: configurator 'a' -> 'b'".
    std::vector<std::string> changes(const std::string& before, const std::string& now) const;
    /// Writes every added definition not kept yet.
    void remember_added() const;

private:
    const StateLayout& state_;
    std::string unit_;
    std::map<std::string, std::string> now_;
};

}  // namespace steppar
