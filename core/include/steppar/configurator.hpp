// Configurators: per-partition settings for a multinode or multipipeline, chosen by matching
// partition names against a template. The settings live in a parameter:
//
//   params:
//     sales_config:
//       template:
//         pattern: "sales/{region}/{store}"     # partition names, with {placeholders}
//         hierarchy: [region, store]             # most significant first (default: pattern order)
//         any: {store: "[0-9]+"}                 # what a placeholder matches (default: [^/]+)
//       configurators:
//         - {name: north, target: [north, "*"], data: {rate: 2}}
//         - {name: s7, target: {region: "*", store: "7"}, data: {rate: 3}}
//         - {target: [[south, east], "*"], cached: true}          # left out by the slicer
//
// For each partition the most specific matching configurator wins: naming a value beats `*`,
// and between two that differ, the one naming the more significant placeholder wins. Two
// equally specific configurators that can match the same partition are an error up front.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace steppar {

struct Configurator {
    std::string name;  ///< given, or "#<index>"
    /// Per placeholder (pattern order): the accepted values; empty means `*`.
    std::vector<std::vector<std::string>> target;
    bool cached = false;
    std::string data;  ///< JSON text ("null" when not given)
};

class ConfiguratorSet {
public:
    /// Parses the parameter's JSON; throws std::invalid_argument with a message naming what is
    /// wrong, including two equally specific configurators that overlap (naming both).
    static ConfiguratorSet parse(const std::string& json);

    /// The winning configurator for a partition, or nothing when none matches (or the name does
    /// not fit the pattern).
    const Configurator* choose(const std::string& partition) const;

    const std::vector<Configurator>& configurators() const noexcept { return configurators_; }
    const std::vector<std::string>& placeholders() const noexcept { return placeholders_; }

private:
    std::vector<int> specificity(const Configurator& c) const;

    std::vector<std::string> placeholders_;  // pattern order
    std::vector<std::size_t> significance_;   // placeholder indices, most significant first
    std::regex pattern_;
    std::vector<Configurator> configurators_;
};

}  // namespace steppar
