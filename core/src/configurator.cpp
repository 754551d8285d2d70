#include "steppar/configurator.hpp"

#include "steppar/error.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace steppar {
namespace {

[[noreturn]] void bad(const std::string& message) { throw std::invalid_argument(message); }

// A target entry: "*" -> {} (any); a value -> {value}; a list -> its alternatives.
std::vector<std::string> values_of(const nlohmann::json& v, const std::string& where) {
    auto one = [&](const nlohmann::json& item) -> std::string {
        if (item.is_string()) return item.get<std::string>();
        if (item.is_number_integer()) return std::to_string(item.get<long long>());
        bad(where + ": a target is a regular expression, a list of them or \"*\"");
    };
    if (v.is_array()) {
        std::vector<std::string> out;
        for (const auto& item : v) {
            out.push_back(one(item));
            if (out.back() == "*") bad(where + ": '*' cannot be one of a list's alternatives (it matches anything on its own)");
        }
        if (out.empty()) bad(where + ": an empty list matches nothing; use \"*\" for any value");
        return out;
    }
    std::string value = one(v);
    if (value == "*") return {};
    return {std::move(value)};
}

// The placeholders of a pattern, as kedro-partitioned finds them (`\{(.+?)\}`), with where each
// starts and ends.
struct Placeholder {
    std::string name;
    std::size_t open, close;
};
std::vector<Placeholder> placeholders_of(const std::string& pattern) {
    std::vector<Placeholder> found;
    for (std::size_t at = pattern.find('{'); at != std::string::npos; at = pattern.find('{', at + 1)) {
        const auto close = pattern.find('}', at + 2);  // `.+?`: at least one character
        if (close == std::string::npos) break;
        found.push_back({pattern.substr(at + 1, close - at - 1), at, close});
        at = close;
    }
    return found;
}

}  // namespace

ConfiguratorSet ConfiguratorSet::parse(const std::string& text) {
    const auto j = nlohmann::json::parse(text);
    if (!j.is_object() || !j.contains("template") || !j.contains("configurators"))
        bad("a configurator parameter needs 'template' and 'configurators'");
    for (const auto& [key, _] : j.items())
        if (key != "template" && key != "configurators") bad("unknown key '" + key + "' (valid: template, configurators)");
    const auto& tpl = j.at("template");
    if (!tpl.is_object() || !tpl.contains("pattern") || !tpl.at("pattern").is_string())
        bad("'template' needs a 'pattern' string like \"sales/{region}/{store}\"");
    for (const auto& [key, _] : tpl.items())
        if (key != "pattern" && key != "hierarchy" && key != "any")
            bad("unknown key '" + key + "' in template" + suggestion(key, {"pattern", "hierarchy", "any"}));

    ConfiguratorSet set;
    const std::string pattern = tpl.at("pattern").get<std::string>();
    const auto found = placeholders_of(pattern);
    for (const auto& p : found) {
        if (std::find(set.placeholders_.begin(), set.placeholders_.end(), p.name) != set.placeholders_.end())
            bad("pattern '" + pattern + "': placeholder '{" + p.name + "}' is repeated; give each its own name");
        set.placeholders_.push_back(p.name);
    }
    if (set.placeholders_.empty()) bad("pattern '" + pattern + "' has no {placeholder}");
    if (set.placeholders_.size() > 30) bad("pattern '" + pattern + "' has more than 30 placeholders");
    std::map<std::string, std::string> any;
    if (tpl.contains("any")) {
        if (!tpl.at("any").is_object()) bad("'any' maps placeholders to regular expressions");
        for (const auto& [key, value] : tpl.at("any").items()) {
            if (!value.is_string()) bad("'any' of '" + key + "' must be a regular expression (a string)");
            if (std::find(set.placeholders_.begin(), set.placeholders_.end(), key) == set.placeholders_.end())
                bad("'any' names '" + key + "', which is not a placeholder of the pattern" + suggestion(key, set.placeholders_));
            any[key] = value.get<std::string>();
        }
    }

    // Weights: a placeholder's position in the hierarchy (kedro-partitioned's `hierarchy.index`).
    if (tpl.contains("hierarchy")) {
        if (!tpl.at("hierarchy").is_array()) bad("'hierarchy' must be a list of the pattern's placeholders");
        std::vector<std::string> hierarchy;
        for (const auto& name : tpl.at("hierarchy")) {
            if (!name.is_string()) bad("'hierarchy' must be a list of the pattern's placeholders");
            hierarchy.push_back(name.get<std::string>());
            if (std::find(set.placeholders_.begin(), set.placeholders_.end(), hierarchy.back()) == set.placeholders_.end())
                bad("hierarchy names '" + hierarchy.back() + "', which is not a placeholder" + suggestion(hierarchy.back(), set.placeholders_));
        }
        for (const auto& p : set.placeholders_) {
            const auto it = std::find(hierarchy.begin(), hierarchy.end(), p);
            if (it == hierarchy.end() || std::count(hierarchy.begin(), hierarchy.end(), p) != 1)
                bad("hierarchy must list every placeholder once: " + join(set.placeholders_));
            set.weight_.push_back(static_cast<unsigned>(it - hierarchy.begin()));
        }
        if (hierarchy.size() != set.placeholders_.size()) bad("hierarchy must list every placeholder once: " + join(set.placeholders_));
    } else {
        for (std::size_t i = 0; i < set.placeholders_.size(); ++i) set.weight_.push_back(static_cast<unsigned>(i));
    }

    if (!j.at("configurators").is_array()) bad("'configurators' must be a list");
    for (const auto& item : j.at("configurators")) {
        if (!item.is_object()) bad("each configurator is a mapping with 'target' (and 'data', 'cached', 'name')");
        Configurator c;
        c.name = item.contains("name") && item.at("name").is_string() ? item.at("name").get<std::string>()
                                                                       : "#" + std::to_string(set.configurators_.size());
        const std::string where = "configurator '" + c.name + "'";
        for (const auto& [key, _] : item.items())
            if (key != "name" && key != "target" && key != "cached" && key != "data")
                bad(where + ": unknown key '" + key + "'" + suggestion(key, {"name", "target", "cached", "data"}));
        if (!item.contains("target")) bad(where + " has no 'target'");
        const auto& target = item.at("target");
        c.target.resize(set.placeholders_.size());
        if (target.is_object()) {  // steppar's own form: by placeholder name, the rest `*`
            for (const auto& [key, value] : target.items()) {
                const auto it = std::find(set.placeholders_.begin(), set.placeholders_.end(), key);
                if (it == set.placeholders_.end()) bad(where + ": '" + key + "' is not a placeholder" + suggestion(key, set.placeholders_));
                c.target[static_cast<std::size_t>(it - set.placeholders_.begin())] = values_of(value, where);
            }
        } else if (target.is_array() && target.size() == set.placeholders_.size()) {
            for (std::size_t i = 0; i < target.size(); ++i) c.target[i] = values_of(target[i], where);
        } else if (target.is_string() && target.get<std::string>() == "*") {
            // every placeholder is '*'
        } else {
            bad(where + ": 'target' must give one entry per placeholder (" + join(set.placeholders_) + "), as a list or a mapping");
        }
        if (item.contains("cached") && !item.at("cached").is_boolean()) bad(where + ": 'cached' must be true or false");
        c.cached = item.value("cached", false);
        c.data = item.contains("data") ? item.at("data").dump() : "null";

        // kedro-partitioned's regular expression: the pattern, each placeholder replaced by the
        // target's alternatives in a group, anchored at both ends.
        std::string regex = "^";
        std::size_t at = 0;
        for (std::size_t p = 0; p < found.size(); ++p) {
            regex += pattern.substr(at, found[p].open - at);
            std::string alternatives;
            if (c.target[p].empty()) {
                const auto custom = any.find(found[p].name);
                alternatives = custom == any.end() ? ".*" : custom->second;
            } else {
                alternatives = join(c.target[p], "|");
            }
            regex += "(" + alternatives + ")";
            at = found[p].close + 1;
        }
        regex += pattern.substr(at) + "$";
        try {
            set.regex_.emplace_back(regex);
        } catch (const std::invalid_argument& e) {
            bad(where + ": its target in pattern '" + pattern + "' gives " + e.what());
        }
        for (const auto& other : set.configurators_)
            if (other.target == c.target)
                bad("configurators '" + other.name + "' and '" + c.name + "' have the same target; merge them or make one more specific");
        set.configurators_.push_back(std::move(c));
    }
    for (std::size_t i = 0; i < set.configurators_.size(); ++i) set.by_score_.push_back(i);
    std::stable_sort(set.by_score_.begin(), set.by_score_.end(),
                     [&](std::size_t a, std::size_t b) { return set.score(set.configurators_[a]) > set.score(set.configurators_[b]); });
    return set;
}

unsigned ConfiguratorSet::score(const Configurator& c) const {
    unsigned s = 0;
    for (std::size_t p = 0; p < c.target.size(); ++p)
        if (!c.target[p].empty()) s |= 1u << weight_[p];
    return s;
}

const Configurator* ConfiguratorSet::choose(const std::string& partition) const {
    const Configurator* best = nullptr;
    unsigned best_score = 0;
    for (const auto i : by_score_) {
        const Configurator& c = configurators_[i];
        if (best && score(c) < best_score) break;  // only the equally specific could still tie
        if (!regex_[i].match_at_start(partition)) continue;
        if (best)
            throw InputError("partition '" + partition + "' is matched by configurators '" + best->name + "' and '" + c.name +
                             "', which are equally specific; make one more specific (kedro-partitioned would take the first)");
        best = &c;
        best_score = score(c);
    }
    return best;
}

}  // namespace steppar
