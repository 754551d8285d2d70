#include "steppar/definition.hpp"

#include "steppar/canonical.hpp"
#include "steppar/hash.hpp"

namespace steppar {
namespace {

void append_names(std::string& out, const std::vector<std::string>& names) {
    append_canonical_list(out, names.size());
    for (const auto& name : names) append_canonical_string(out, name);
}

}  // namespace

// Written field by field; every map's keys below are in byte order (std::map keeps its keys in
// byte order too), which the tests check against canonical_encoding() of the same value as JSON.
std::string definition_encoding(const UnitDefinition& definition) {
    std::string out;
    append_canonical_map(out, 4);
    append_canonical_string(out, "datasets");
    append_canonical_map(out, definition.datasets.size());
    for (const auto& [name, d] : definition.datasets) {
        append_canonical_string(out, name);
        append_canonical_map(out, 4);
        append_canonical_string(out, "folder_suffix");
        append_canonical_string(out, d.folder_suffix);
        append_canonical_string(out, "kind");
        append_canonical_string(out, d.kind);
        append_canonical_string(out, "path");
        append_canonical_string(out, d.path);
        append_canonical_string(out, "suffix");
        append_canonical_string(out, d.suffix);
    }
    append_canonical_string(out, "files");
    append_canonical_map(out, definition.files.size());
    for (const auto& [name, stamp] : definition.files) {
        append_canonical_string(out, name);
        append_canonical_string(out, stamp);
    }
    append_canonical_string(out, "format");
    append_canonical_string(out, "steppar definition 2");  // a new meaning of the fields changes this
    append_canonical_string(out, "nodes");
    append_canonical_list(out, definition.nodes.size());
    for (const auto& n : definition.nodes) {
        append_canonical_map(out, 6);
        append_canonical_string(out, "function");
        append_canonical_string(out, n.function);
        append_canonical_string(out, "inputs");
        append_names(out, n.inputs);
        append_canonical_string(out, "name");
        append_canonical_string(out, n.name);
        append_canonical_string(out, "outputs");
        append_names(out, n.outputs);
        append_canonical_string(out, "params");
        append_canonical_map(out, n.params.size());
        for (const auto& [input, json_text] : n.params) {
            append_canonical_string(out, input);
            append_canonical_json(out, json_text);  // the value, not the text it was written as
        }
        append_canonical_string(out, "plugin");
        append_canonical_string(out, n.plugin_digest);
    }
    return out;
}

std::string definition_digest(const UnitDefinition& definition) { return sha256_hex(definition_encoding(definition)); }

std::string configured_definition_digest(const std::string& unit_digest, const Configurator* chosen) {
    std::string out;
    append_canonical_map(out, 2);
    append_canonical_string(out, "configurator");
    if (chosen) {
        append_canonical_map(out, 2);
        append_canonical_string(out, "data");
        append_canonical_json(out, chosen->data);
        append_canonical_string(out, "name");
        append_canonical_string(out, chosen->name);
    } else {
        append_canonical_null(out);
    }
    append_canonical_string(out, "definition");
    append_canonical_string(out, unit_digest);
    return sha256_hex(out);
}

}  // namespace steppar
