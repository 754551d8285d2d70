#include "steppar/plan.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/slicer.hpp"

#include <nlohmann/json.hpp>

namespace steppar {

std::size_t SlicePlan::partition_count() const {
    std::size_t n = 0;
    for (const auto& s : slices) n += s.size();
    return n;
}

SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, const std::vector<std::string>& partitions,
                    int slice_count) {
    std::vector<std::vector<std::string>> slices;
    for (const auto& range : slice_evenly(partitions.size(), slice_count))
        slices.emplace_back(partitions.begin() + static_cast<std::ptrdiff_t>(range.begin),
                            partitions.begin() + static_cast<std::ptrdiff_t>(range.end));
    return make_plan(std::move(unit), std::move(inputs), std::move(slices));
}

SlicePlan make_plan(std::string unit, std::vector<std::string> inputs, std::vector<std::vector<std::string>> slices) {
    SlicePlan plan;
    plan.unit = std::move(unit);
    plan.inputs = std::move(inputs);
    plan.slices = std::move(slices);
    // The id covers everything that decides what a slice does, so a marker from another plan
    // (other partitions, other slice count) can never be mistaken for this one's.
    nlohmann::json identity = {{"unit", plan.unit}, {"inputs", plan.inputs}, {"slices", plan.slices}};
    plan.plan_id = sha256_hex(identity.dump());
    return plan;
}

std::string to_json(const SlicePlan& plan) {
    nlohmann::json slices = nlohmann::json::array();
    for (std::size_t i = 0; i < plan.slices.size(); ++i)
        slices.push_back({{"slice", i}, {"partitions", plan.slices[i]}});
    const nlohmann::json j = {{"format", SlicePlan::format},
                              {"unit", plan.unit},
                              {"plan_id", plan.plan_id},
                              {"inputs", plan.inputs},
                              {"slice_count", plan.slices.size()},
                              {"partition_count", plan.partition_count()},
                              {"slices", std::move(slices)}};
    return j.dump(1) + "\n";
}

SlicePlan plan_from_json(std::string_view text, const std::string& origin) {
    try {
        const auto j = nlohmann::json::parse(text);
        if (j.at("format").get<int>() != SlicePlan::format)
            throw StateError("slice plan '" + origin + "' has format " + j.at("format").dump() + ", this steppar reads " +
                             std::to_string(SlicePlan::format) + " (rerun the slicer)");
        SlicePlan plan;
        plan.unit = j.at("unit").get<std::string>();
        plan.plan_id = j.at("plan_id").get<std::string>();
        plan.inputs = j.at("inputs").get<std::vector<std::string>>();
        const auto& slices = j.at("slices");
        const auto count = j.at("slice_count").get<std::size_t>();
        if (slices.size() != count) throw StateError("slice plan '" + origin + "': slice_count does not match slices");
        for (std::size_t i = 0; i < slices.size(); ++i) {
            if (slices[i].at("slice").get<std::size_t>() != i)
                throw StateError("slice plan '" + origin + "': slices are out of order");
            plan.slices.push_back(slices[i].at("partitions").get<std::vector<std::string>>());
        }
        return plan;
    } catch (const nlohmann::json::exception& e) {
        throw StateError("slice plan '" + origin + "' is corrupt (" + e.what() + "); rerun the pipeline to re-slice");
    }
}

void write_plan(const std::filesystem::path& path, const SlicePlan& plan) {
    write_file_atomically(path, to_json(plan), /*durable=*/true);
}

SlicePlan read_plan(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw StateError("no slice plan at '" + path.string() + "': run the slicer first (steppar-host run)");
    return plan_from_json(read_file(path), path.string());
}

}  // namespace steppar
