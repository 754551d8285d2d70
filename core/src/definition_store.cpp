#include "steppar/definition_store.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/files.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

namespace fs = std::filesystem;
using nlohmann::json;

namespace steppar {
namespace {

fs::path parts_path(const StateLayout& state, std::string_view unit, const std::string& digest) {
    return state.unit_dir(unit) / "definitions" / (digest + ".json");
}

std::optional<json> recall_json(const DefinitionParts& parts, const std::string& digest) {
    const auto text = parts.find(digest);
    if (!text) return std::nullopt;
    try {
        return json::parse(*text);
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

std::string shown(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// The changes between two unit parts, each with the part it belongs to.
void unit_changes(const json& before, const json& now, std::vector<std::pair<DefinitionPart, std::string>>& out) {
    const json& old_nodes = before.at("nodes");
    const json& new_nodes = now.at("nodes");
    for (std::size_t i = 0; i < std::max(old_nodes.size(), new_nodes.size()); ++i) {
        if (i >= old_nodes.size() || i >= new_nodes.size()) {
            out.emplace_back(part_function, "the unit has " + std::to_string(new_nodes.size()) + " node(s), it had " + std::to_string(old_nodes.size()));
            break;
        }
        const json& a = old_nodes[i];
        const json& b = new_nodes[i];
        const std::string node = "node '" + b.value("name", std::string()) + "'";
        for (const char* field : {"name", "function", "inputs", "outputs"})
            if (a.value(field, json()) != b.value(field, json()))
                out.emplace_back(part_function, node + " " + field + " " + shown(a.value(field, json())) + " -> " + shown(b.value(field, json())));
        if (a.value("plugin", std::string()) != b.value("plugin", std::string())) {
            std::string said = node + " plugin '" + b.value("plugin_file", std::string()) + "'";
            const std::string old_version = a.value("plugin_version", std::string()), new_version = b.value("plugin_version", std::string());
            if (old_version != new_version) said += " version " + (old_version.empty() ? "(none)" : old_version) + " -> " + (new_version.empty() ? "(none)" : new_version);
            else said += " rebuilt (other bytes" + (new_version.empty() ? std::string() : ", same version " + new_version) + ")";
            out.emplace_back(part_plugin, said);
        }
        const json empty = json::object();
        const json& pa = a.contains("params") ? a["params"] : empty;
        const json& pb = b.contains("params") ? b["params"] : empty;
        std::set<std::string> names;
        for (const auto& [k, _] : pa.items()) names.insert(k);
        for (const auto& [k, _] : pb.items()) names.insert(k);
        for (const auto& k : names) {
            const json va = pa.contains(k) ? pa[k] : json("(none)"), vb = pb.contains(k) ? pb[k] : json("(none)");
            if (va != vb) out.emplace_back(part_params, k + " " + va.dump() + " -> " + vb.dump());
        }
    }
    for (const char* table : {"datasets", "files"}) {
        const json empty = json::object();
        const json& ta = before.contains(table) ? before[table] : empty;
        const json& tb = now.contains(table) ? now[table] : empty;
        std::set<std::string> names;
        for (const auto& [k, _] : ta.items()) names.insert(k);
        for (const auto& [k, _] : tb.items()) names.insert(k);
        for (const auto& k : names) {
            const json va = ta.contains(k) ? ta[k] : json(), vb = tb.contains(k) ? tb[k] : json();
            if (va == vb) continue;
            if (std::string(table) == "files") {
                out.emplace_back(part_settings, "file input '" + k + "' changed (stamp " + shown(va) + " -> " + shown(vb) + ")");
                continue;
            }
            std::string said = "dataset '" + k + "'";
            if (va.is_object() && vb.is_object()) {
                for (const auto& [field, value] : vb.items())
                    if (va.value(field, json()) != value) said += " " + field + " " + shown(va.value(field, json())) + " -> " + shown(value);
            } else {
                said += va.is_null() ? " added" : " removed";
            }
            out.emplace_back(part_settings, said);
        }
    }
}

// Every change from `before` to `now`, unit or configured parts alike.
std::vector<std::pair<DefinitionPart, std::string>> all_changes(const DefinitionParts& parts, const std::string& before, const std::string& now) {
    std::vector<std::pair<DefinitionPart, std::string>> out;
    auto a = recall_json(parts, before), b = recall_json(parts, now);
    if (!a || !b) return out;
    try {
        // A configured definition: its configurator, then its unit's parts.
        if (a->value("kind", std::string()) == "configured" || b->value("kind", std::string()) == "configured") {
            const json none;
            const json ca = a->value("kind", std::string()) == "configured" ? a->value("configurator", none) : none;
            const json cb = b->value("kind", std::string()) == "configured" ? b->value("configurator", none) : none;
            if (ca != cb) {
                auto name = [](const json& c) { return c.is_object() ? "'" + c.value("name", std::string()) + "'" : std::string("none"); };
                out.emplace_back(part_settings, ca.is_object() && cb.is_object() && ca.value("name", "") == cb.value("name", "")
                                                    ? "configurator " + name(cb) + " data " + ca.value("data", json()).dump() + " -> " + cb.value("data", json()).dump()
                                                    : "configurator " + name(ca) + " -> " + name(cb));
            }
            const std::string unit_a = a->value("kind", std::string()) == "configured" ? a->value("definition", std::string()) : before;
            const std::string unit_b = b->value("kind", std::string()) == "configured" ? b->value("definition", std::string()) : now;
            if (unit_a != unit_b) {
                a = recall_json(parts, unit_a);
                b = recall_json(parts, unit_b);
                if (a && b) unit_changes(*a, *b, out);
            }
            return out;
        }
        unit_changes(*a, *b, out);
    } catch (const json::exception&) {
        out.clear();  // parts of another shape: no detail rather than a wrong one
    }
    return out;
}

}  // namespace

std::string definition_part_names(std::uint8_t parts) {
    std::string names;
    for (const auto& [bit, name] : {std::pair{part_params, "params"}, {part_plugin, "plugin"}, {part_function, "function"}, {part_settings, "settings"}})
        if (parts & bit) names += (names.empty() ? "" : "+") + std::string(name);
    return names;
}

std::string unit_parts_json(const UnitDefinition& definition, const std::vector<PluginShown>& plugins) {
    json nodes = json::array();
    for (std::size_t i = 0; i < definition.nodes.size(); ++i) {
        const NodeDefinition& n = definition.nodes[i];
        json params = json::object();
        for (const auto& [input, text] : n.params) {
            try {
                params[input] = json::parse(text);
            } catch (const json::exception&) {
                params[input] = text;
            }
        }
        json node = {{"name", n.name}, {"function", n.function}, {"plugin", n.plugin_digest}, {"inputs", n.inputs},
                     {"outputs", n.outputs}, {"params", params}};
        if (i < plugins.size()) node.update({{"plugin_name", plugins[i].name}, {"plugin_version", plugins[i].version}, {"plugin_file", plugins[i].file}});
        nodes.push_back(std::move(node));
    }
    json datasets = json::object();
    for (const auto& [name, d] : definition.datasets)
        datasets[name] = {{"kind", d.kind}, {"path", d.path}, {"suffix", d.suffix}, {"folder_suffix", d.folder_suffix}};
    return json{{"kind", "unit"}, {"nodes", nodes}, {"datasets", datasets}, {"files", definition.files}}.dump();
}

std::string configured_parts_json(const std::string& unit_digest, const Configurator* chosen) {
    json configurator;  // null
    if (chosen) {
        json data;
        try {
            data = json::parse(chosen->data);
        } catch (const json::exception&) {
            data = chosen->data;
        }
        configurator = {{"name", chosen->name}, {"data", data}};
    }
    return json{{"kind", "configured"}, {"definition", unit_digest}, {"configurator", configurator}}.dump();
}

void remember_definition(const StateLayout& state, std::string_view unit, const std::string& digest, const std::string& parts_json) {
    const fs::path path = parts_path(state, unit, digest);
    std::error_code ec;
    if (fs::exists(path, ec)) return;
    try {
        fs::create_directories(path.parent_path(), ec);
        write_file_atomically(path, parts_json, AtomicFile::Durability::none);
    } catch (const std::exception&) {
        // Only detail is lost: `why` then says "definition-changed" without naming the part.
    }
}

std::optional<std::string> recall_definition(const StateLayout& state, std::string_view unit, const std::string& digest) {
    const fs::path path = parts_path(state, unit, digest);
    std::error_code ec;
    if (digest.empty() || !fs::exists(path, ec)) return std::nullopt;
    try {
        return read_file(path);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<std::string> DefinitionParts::find(const std::string& digest) const {
    if (const auto it = now_.find(digest); it != now_.end()) return it->second;
    return recall_definition(state_, unit_, digest);
}

std::uint8_t DefinitionParts::difference(const std::string& before, const std::string& now) const {
    std::uint8_t parts = 0;
    for (const auto& [part, _] : all_changes(*this, before, now)) parts |= part;
    return parts;
}

std::vector<std::string> DefinitionParts::changes(const std::string& before, const std::string& now) const {
    std::vector<std::string> said;
    for (const auto& [part, text] : all_changes(*this, before, now)) said.push_back(definition_part_names(part) + ": " + text);
    return said;
}

void DefinitionParts::remember_added() const {
    for (const auto& [digest, text] : now_) remember_definition(state_, unit_, digest, text);
}

}  // namespace steppar
