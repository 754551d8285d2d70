// Which partitions a unit works on. Its partitioned inputs from outside the unit are listed
// (with their stamps) and zipped by name: only names present in every one of them are kept, and
// each input that loses some says so (with `strict: true` that is an error). Then filter,
// exclude, --partitions and `cached: true` configurators narrow them: those left out are neither
// run nor retracted, their outputs stay as they are.
//
//   ZippedInputs zipped = zip_inputs(pipeline, unit);        // names + stamps, sorted
//   std::vector<bool> chosen = select_partitions(pipeline, unit, zipped.names, "^2024/");
#pragma once

#include "steppar/pipeline.hpp"
#include "steppar/stamp.hpp"

#include <string>
#include <vector>

namespace steppar {

struct ZippedInputs {
    std::vector<std::string> inputs;  ///< the zipped datasets, in the unit's order
    std::vector<std::string> names;   ///< partition names present in every input, sorted
    std::vector<FileStamp> stamps;    ///< names.size() x inputs.size(): stamps[i * inputs.size() + k] (empty: not stat'ed)

    /// The stamps of partition i's input files, or null when the inputs were not stat'ed.
    const FileStamp* stamps_of(std::size_t i) const { return stamps.empty() ? nullptr : stamps.data() + i * inputs.size(); }
};

/// Lists (and, `with_stamps`, stats) the unit's external partitioned inputs and zips them by
/// name. Throws SpecError naming the partitions without partner when the unit is strict,
/// StateError when an input folder is missing. `quiet`: no log lines.
ZippedInputs zip_inputs(const Pipeline& pipeline, const Unit& unit, bool with_stamps = true, bool quiet = false);

/// Which of `names` (sorted) the unit hands out: filter, exclude, date_range, `only`
/// (--partitions) and no `cached: true` configurator. Logs how many were left out and why, unless
/// `quiet`. Throws UsageError for a bad `only` regex.
std::vector<bool> select_partitions(const Pipeline& pipeline, const Unit& unit, const std::vector<std::string>& names,
                                    const std::string& only, bool quiet = false);

/// The partitions `unit` hands out whatever --partitions says, quietly: what it claims of each
/// output it shares with other units (Pipeline::producers), sorted.
std::vector<std::string> claimed_partitions(const Pipeline& pipeline, const Unit& unit);

/// A catalog output stores partition `p` as `p` + suffix: with no suffix (or an unlucky one),
/// `can` and `can/bcm` need a file and a folder of the same name. Throws SpecError naming both.
void check_output_collisions(const Pipeline& pipeline, const Unit& unit, const std::vector<std::string>& names);

}  // namespace steppar
