#include "steppar/configurator.hpp"

#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace steppar {
namespace {

std::string escape_regex(const std::string& text) {
    static const std::string special = R"(\^$.|?*+()[]{})";
    std::string out;
    for (char c : text) {
        if (special.find(c) != std::string::npos) out += '\\';
        out += c;
    }
    return out;
}

[[noreturn]] void bad(const std::string& message) { throw std::invalid_argument(message); }

std::vector<std::string> values_of(const nlohmann::json& v, const std::string& where) {
    if (v.is_string()) {
        if (v.get<std::string>() == "*") return {};
        return {v.get<std::string>()};
    }
    if (v.is_number_integer()) return {std::to_string(v.get<long long>())};
    if (v.is_array()) {
        std::vector<std::string> out;
        for (const auto& item : v) {
            if (item.is_string() && item.get<std::string>() != "*") out.push_back(item.get<std::string>());
            else if (item.is_number_integer()) out.push_back(std::to_string(item.get<long long>()));
            else bad(where + ": a list of values may hold only names (no '*')");
        }
        if (out.empty()) bad(where + ": an empty list matches nothing; use \"*\" for any value");
        return out;
    }
    bad(where + ": a target is a value, a list of values or \"*\"");
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
    std::map<std::string, std::string> any;
    if (tpl.contains("any")) {
        if (!tpl.at("any").is_object()) bad("'any' maps placeholders to regular expressions");
        for (const auto& [key, value] : tpl.at("any").items()) any[key] = value.get<std::string>();
    }
    std::string regex;
    std::size_t at = 0;
    while (at < pattern.size()) {
        const auto open = pattern.find('{', at);
        regex += escape_regex(pattern.substr(at, open == std::string::npos ? std::string::npos : open - at));
        if (open == std::string::npos) break;
        const auto close = pattern.find('}', open);
        if (close == std::string::npos) bad("pattern '" + pattern + "': '{' without '}'");
        const std::string name = pattern.substr(open + 1, close - open - 1);
        if (name.empty() || std::find(set.placeholders_.begin(), set.placeholders_.end(), name) != set.placeholders_.end())
            bad("pattern '" + pattern + "': placeholder '{" + name + "}' is empty or repeated");
        set.placeholders_.push_back(name);
        const auto custom = any.find(name);
        regex += "(" + (custom == any.end() ? std::string("[^/]+") : "(?:" + custom->second + ")") + ")";
        at = close + 1;
    }
    if (set.placeholders_.empty()) bad("pattern '" + pattern + "' has no {placeholder}");
    for (const auto& [name, _] : any)
        if (std::find(set.placeholders_.begin(), set.placeholders_.end(), name) == set.placeholders_.end())
            bad("'any' names '" + name + "', which is not a placeholder of the pattern" + suggestion(name, set.placeholders_));
    try {
        set.pattern_ = std::regex(regex, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
        bad("pattern '" + pattern + "' with its 'any' expressions is not a valid regular expression: " + e.what());
    }

    if (tpl.contains("hierarchy")) {
        for (const auto& name : tpl.at("hierarchy")) {
            const auto it = std::find(set.placeholders_.begin(), set.placeholders_.end(), name.get<std::string>());
            if (it == set.placeholders_.end())
                bad("hierarchy names '" + name.get<std::string>() + "', which is not a placeholder" +
                    suggestion(name.get<std::string>(), set.placeholders_));
            set.significance_.push_back(static_cast<std::size_t>(it - set.placeholders_.begin()));
        }
        if (set.significance_.size() != set.placeholders_.size())
            bad("hierarchy must list every placeholder once: " + join(set.placeholders_));
    } else {
        for (std::size_t i = 0; i < set.placeholders_.size(); ++i) set.significance_.push_back(i);
    }

    if (!j.at("configurators").is_array()) bad("'configurators' must be a list");
    for (const auto& item : j.at("configurators")) {
        Configurator c;
        c.name = item.value("name", "#" + std::to_string(set.configurators_.size()));
        const std::string where = "configurator '" + c.name + "'";
        for (const auto& [key, _] : item.items())
            if (key != "name" && key != "target" && key != "cached" && key != "data")
                bad(where + ": unknown key '" + key + "'" + suggestion(key, {"name", "target", "cached", "data"}));
        if (!item.contains("target")) bad(where + " has no 'target'");
        const auto& target = item.at("target");
        c.target.resize(set.placeholders_.size());
        if (target.is_object()) {
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
            bad(where + ": 'target' must give one entry per placeholder (" + join(set.placeholders_) +
                "), as a list or a mapping");
        }
        c.cached = item.value("cached", false);
        c.data = item.contains("data") ? item.at("data").dump() : "null";
        set.configurators_.push_back(std::move(c));
    }

    // Ties: equally specific configurators that share at least one partition.
    for (std::size_t a = 0; a < set.configurators_.size(); ++a)
        for (std::size_t b = a + 1; b < set.configurators_.size(); ++b) {
            const auto& x = set.configurators_[a];
            const auto& y = set.configurators_[b];
            if (set.specificity(x) != set.specificity(y)) continue;
            bool overlap = true;
            for (std::size_t p = 0; p < x.target.size() && overlap; ++p) {
                if (x.target[p].empty()) continue;  // both '*' (same specificity)
                overlap = std::any_of(x.target[p].begin(), x.target[p].end(), [&](const std::string& v) {
                    return std::find(y.target[p].begin(), y.target[p].end(), v) != y.target[p].end();
                });
            }
            if (overlap)
                bad("configurators '" + x.name + "' and '" + y.name +
                    "' are equally specific and can match the same partitions; make one more specific");
        }
    return set;
}

std::vector<int> ConfiguratorSet::specificity(const Configurator& c) const {
    std::vector<int> s;
    for (const auto p : significance_) s.push_back(c.target[p].empty() ? 0 : 1);
    return s;
}

const Configurator* ConfiguratorSet::choose(const std::string& partition) const {
    std::smatch match;
    if (!std::regex_match(partition, match, pattern_)) return nullptr;
    const Configurator* best = nullptr;
    std::vector<int> best_specificity;
    for (const auto& c : configurators_) {
        bool matches = true;
        for (std::size_t p = 0; p < c.target.size() && matches; ++p)
            matches = c.target[p].empty() ||
                      std::find(c.target[p].begin(), c.target[p].end(), match[static_cast<int>(p) + 1].str()) != c.target[p].end();
        if (!matches) continue;
        auto s = specificity(c);
        if (!best || s > best_specificity) {
            best = &c;
            best_specificity = std::move(s);
        }
    }
    return best;
}

}  // namespace steppar
