#include "steppar/partition_selection.hpp"

#include "steppar/error.hpp"
#include "steppar/interruption.hpp"
#include "steppar/log.hpp"
#include "steppar/regex.hpp"
#include "steppar/text.hpp"
#include "steppar/watched_scan.hpp"

#include <algorithm>
#include <optional>

namespace steppar {
ZippedInputs zip_inputs(const Pipeline& pipeline, const Unit& unit, bool with_stamps, bool quiet) {
    ZippedInputs zipped;
    zipped.inputs = pipeline.external_partitioned_inputs(unit);
    const std::size_t width = zipped.inputs.size();
    std::vector<PartitionScan> scans;
    for (const auto& in : zipped.inputs) {
        const Dataset& d = pipeline.catalog().at(in);
        // No node writes it during the run: the watch's events can stand for a walk.
        scans.push_back(with_stamps && pipeline.producers(in).empty() ? scan_watched(d) : scan_partitions(d, false, nullptr, with_stamps));
    }
    if (width == 1) {
        zipped.names = std::move(scans[0].names);
        zipped.stamps = std::move(scans[0].stamps);
        return zipped;
    }
    // Names present in every input: walk all the sorted lists at once.
    std::vector<std::size_t> at(width, 0);
    std::vector<std::vector<std::string>> alone(width);
    for (;;) {
        const std::string* lowest = nullptr;
        for (std::size_t k = 0; k < width; ++k)
            if (at[k] < scans[k].names.size() && (!lowest || scans[k].names[at[k]] < *lowest)) lowest = &scans[k].names[at[k]];
        if (!lowest) break;
        const std::string name = *lowest;
        bool everywhere = true;
        for (std::size_t k = 0; k < width; ++k)
            everywhere = everywhere && at[k] < scans[k].names.size() && scans[k].names[at[k]] == name;
        if (everywhere) {
            for (std::size_t k = 0; k < width; ++k) {
                if (with_stamps) zipped.stamps.push_back(scans[k].stamps[at[k]]);
                ++at[k];
            }
            zipped.names.push_back(name);
        } else {
            for (std::size_t k = 0; k < width; ++k)
                if (at[k] < scans[k].names.size() && scans[k].names[at[k]] == name) alone[k].push_back(scans[k].names[at[k]++]);
        }
    }
    std::vector<std::string> problems;
    for (std::size_t k = 0; k < width; ++k) {
        if (alone[k].empty()) continue;
        const std::string what = std::to_string(alone[k].size()) + " partition(s) of '" + zipped.inputs[k] +
                                 "' left out: no partner of the same name in every other input (" + join_first(alone[k], 5) + ")";
        if (unit.options.strict) problems.push_back(what);
        else if (!quiet) log("'" + unit.name + "': " + what);
    }
    if (!problems.empty())
        throw SpecError(pipeline.source().string(), unit.line, "'" + unit.name + "' (strict): " + join(problems, "; "));
    return zipped;
}

std::vector<bool> select_partitions(const Pipeline& pipeline, const Unit& unit, const std::vector<std::string>& names,
                                    const std::string& only, bool quiet) {
    auto compile = [](const std::vector<std::string>& expressions) { return std::vector<Regex>(expressions.begin(), expressions.end()); };
    const auto filters = compile(unit.options.filter), excludes = compile(unit.options.exclude);
    std::vector<Regex> narrow;
    try {
        if (!only.empty()) narrow.emplace_back(only);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("--partitions: ") + e.what());
    }
    std::optional<DateRange> dates;
    if (unit.options.date_range) dates.emplace(*unit.options.date_range);
    auto any_of = [](const std::vector<Regex>& res, const std::string& name) {
        return std::any_of(res.begin(), res.end(), [&](const Regex& re) { return re.search(name); });
    };
    const ConfiguratorSet* configurators = pipeline.configurators(unit);
    std::vector<bool> chosen(names.size(), true);
    if (filters.empty() && excludes.empty() && narrow.empty() && !dates && !configurators) return chosen;
    std::size_t narrowed = 0, cached = 0;
    std::vector<std::string> unconfigured;
    for (std::size_t i = 0; i < names.size(); ++i) {
        interruption_point();
        const std::string& name = names[i];
        if ((!filters.empty() && !any_of(filters, name)) || any_of(excludes, name) || (!narrow.empty() && !any_of(narrow, name)) ||
            (dates && !dates->admits(name))) {
            chosen[i] = false;
            ++narrowed;
            continue;
        }
        if (configurators) {
            const Configurator* c = configurators->choose(name);
            if (c && c->cached) {
                chosen[i] = false;
                ++cached;
                continue;
            }
            if (!c) unconfigured.push_back(name);
        }
    }
    if (quiet) return chosen;
    if (narrowed)
        log("'" + unit.name + "': " + std::to_string(narrowed) + " of " + std::to_string(names.size()) +
            " partition(s) left out by filter/exclude/date_range/--partitions");
    if (cached) log("'" + unit.name + "': " + std::to_string(cached) + " cached partition(s) left out (cached: true)");
    if (!unconfigured.empty())
        warn("'" + unit.name + "': " + std::to_string(unconfigured.size()) +
             " partition(s) match no configurator and run without configuration data (" + join_first(unconfigured, 5) + ")");
    return chosen;
}

std::vector<std::string> claimed_partitions(const Pipeline& pipeline, const Unit& unit) {
    ZippedInputs zipped = zip_inputs(pipeline, unit, /*with_stamps=*/false, /*quiet=*/true);
    const std::vector<bool> chosen = select_partitions(pipeline, unit, zipped.names, "", /*quiet=*/true);
    std::vector<std::string> claimed;
    for (std::size_t i = 0; i < zipped.names.size(); ++i)
        if (chosen[i]) claimed.push_back(std::move(zipped.names[i]));
    return claimed;
}

void check_output_collisions(const Pipeline& pipeline, const Unit& unit, const std::vector<std::string>& names) {
    for (const auto& n : unit.nodes)
        for (const auto& out : n.outputs) {
            const Dataset& d = pipeline.catalog().at(out);
            if (!d.partitioned() || !d.folder_suffix.empty()) continue;  // intermediates are encoded
            for (const auto& name : names)
                for (auto slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
                    // The folder `name[0, slash)` is a partition's file when it is "p" + suffix.
                    const std::string_view folder(name.data(), slash);
                    if (folder.size() <= d.suffix.size() || folder.substr(folder.size() - d.suffix.size()) != d.suffix) continue;
                    const std::string other(folder.substr(0, folder.size() - d.suffix.size()));
                    if (!std::binary_search(names.begin(), names.end(), other)) continue;
                    throw SpecError(pipeline.source().string(), d.line ? d.line : unit.line,
                                    "dataset '" + out + "' cannot hold both partition '" + other + "' (the file '" +
                                        d.partition_path(other) + "') and partition '" + name + "' (inside the folder '" +
                                        (d.path / std::string(folder)).string() + "/'); give '" + out +
                                        "' a suffix, e.g. suffix: .out");
                }
        }
}

}  // namespace steppar
