// Configurators: per-partition settings for a multinode or multipipeline, chosen by matching
// partition names against a template. They follow kedro-partitioned's ConfiguratorFinder, so a
// parameter file written for it means the same here. The settings live in a parameter:
//
//   params:
//     sales_config:
//       template:
//         pattern: "sales/{region}/{store}"     # a regular expression around {placeholders}
//         hierarchy: [region, store]             # least significant first (default: pattern order)
//         any: {store: "[0-9]+"}                 # what `*` matches for a placeholder (default: .*)
//       configurators:
//         - {name: north, target: [north, "*"], data: {rate: 2}}
//         - {name: s7, target: {region: "*", store: "7"}, data: {rate: 3}}
//         - {target: ["east|west", "*"], cached: true}          # left out by the slicer
//
// A configurator matches a partition when `^pattern$`, with each placeholder replaced by its
// target (a regular expression; a list is its alternatives; `*` is the `any` expression), matches
// the whole name. Of those that match, the most specific wins: each named (not `*`) placeholder
// scores 2^(its position in the hierarchy), so the placeholder listed last counts most -- for
// `{country}/{state}` and partition BR/SP, [*, SP] beats [BR, *]. Where kedro-partitioned takes
// the first of two equally specific matches, steppar refuses, naming both and the partition.
#pragma once

#include "steppar/regex.hpp"

#include <optional>
#include <string>
#include <vector>

namespace steppar {

struct Configurator {
    std::string name;  ///< given, or "#<index>"
    /// Per placeholder (pattern order): the target's alternatives; empty means `*`.
    std::vector<std::vector<std::string>> target;
    bool cached = false;
    std::string data;  ///< JSON text ("null" when not given)
};

class ConfiguratorSet {
public:
    /// Parses the parameter's JSON; throws std::invalid_argument with a message naming what is
    /// wrong (a bad regular expression, two configurators with the same target, ...).
    static ConfiguratorSet parse(const std::string& json);

    /// The winning configurator for a partition, or nothing when none matches. Throws InputError
    /// naming the partition when two equally specific configurators match it.
    const Configurator* choose(const std::string& partition) const;

    const std::vector<Configurator>& configurators() const noexcept { return configurators_; }
    const std::vector<std::string>& placeholders() const noexcept { return placeholders_; }
    /// kedro-partitioned's score of a configurator: the bits of its named placeholders.
    unsigned score(const Configurator& c) const;

private:
    std::vector<std::string> placeholders_;  // pattern order
    std::vector<unsigned> weight_;           // per placeholder: its position in the hierarchy
    std::vector<Configurator> configurators_;
    std::vector<Regex> regex_;               // per configurator
    std::vector<std::size_t> by_score_;      // configurator indices, most specific first, then list order
};

}  // namespace steppar
