#include "steppar/plan.hpp"

#include "sealed_json.hpp"
#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/hash.hpp"
#include "steppar/interruption.hpp"
#include "steppar/slicer.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace steppar {
namespace {

// ["a","b",...] without building a JSON tree: plans may hold millions of names.
std::string json_array(const std::vector<std::string>& names) {
    std::string out = "[";
    std::size_t bytes = 2;
    for (const auto& n : names) bytes += n.size() + 3;
    out.reserve(bytes);
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out.push_back(',');
        append_json_string(out, names[i]);
    }
    out.push_back(']');
    return out;
}

template <class F>
auto parsed(std::string_view text, const std::string& origin, const char* what, F&& read, bool sealed = false) {
    try {
        auto j = nlohmann::json::parse(text);
        if (j.at("format").get<int>() != SlicePlan::format)
            throw StateError(std::string(what) + " '" + origin + "' has format " + j.at("format").dump() +
                             ", this steppar reads " + std::to_string(SlicePlan::format) + " (rerun the slicer)");
        if (sealed) unseal(j, what, origin, "rerun the pipeline to re-slice");
        return read(j);
    } catch (const nlohmann::json::exception& e) {
        throw StateError(std::string(what) + " '" + origin + "' is corrupt (" + e.what() + "); rerun the pipeline to re-slice");
    }
}

}  // namespace

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
    plan.plan_id = plan_identity(plan);
    return plan;
}

std::string plan_identity(const SlicePlan& plan) {
    // The id covers everything that decides what a slice does, so a marker from another plan
    // (other partitions, other cut, another generation) can never be mistaken for this one's.
    Sha256 identity;
    std::string head = "{\"unit\":";
    append_json_string(head, plan.unit);
    head += ",\"generation\":" + std::to_string(plan.generation) + ",\"definition\":";
    append_json_string(head, plan.definition);
    head += ",\"inputs\":" + json_array(plan.inputs) + ",\"slices\":[";
    identity.update(head);
    for (std::size_t i = 0; i < plan.slices.size(); ++i) {
        if (i) identity.update(",");
        identity.update(json_array(plan.slices[i]));
    }
    identity.update("]}");
    return identity.hex();
}

SlicePart part_of(const SlicePlan& plan, int slice) {
    return {plan.unit, plan.plan_id, slice, plan.slices.at(static_cast<std::size_t>(slice))};
}

namespace {

// The index, vouching for each part by its SHA-256.
std::string index_json(const SlicePlan& plan, const std::vector<std::string>& part_digests) {
    nlohmann::json slices = nlohmann::json::array();
    for (std::size_t i = 0; i < plan.slices.size(); ++i)
        slices.push_back({{"slice", i}, {"partitions", plan.slices[i].size()}, {"digest", part_digests.at(i)}});
    const nlohmann::json j = {{"format", SlicePlan::format},
                              {"unit", plan.unit},
                              {"plan_id", plan.plan_id},
                              {"generation", plan.generation},
                              {"definition", plan.definition},
                              {"summary", {{"new", plan.summary.new_count}, {"changed", plan.summary.changed},
                                           {"up_to_date", plan.summary.up_to_date}, {"retracted", plan.summary.retracted}}},
                              {"inputs", plan.inputs},
                              {"slice_count", plan.slices.size()},
                              {"partition_count", plan.partition_count()},
                              {"slices", std::move(slices)}};
    return seal(j);
}

}  // namespace

std::string index_json(const SlicePlan& plan) {
    std::vector<std::string> digests;
    for (std::size_t i = 0; i < plan.slices.size(); ++i) digests.push_back(sha256_hex(part_json(plan, static_cast<int>(i))));
    return index_json(plan, digests);
}

std::string part_json(const SlicePlan& plan, int slice) {
    std::string out = "{\"format\": " + std::to_string(SlicePlan::format) + ", \"unit\": ";
    append_json_string(out, plan.unit);
    out += ", \"plan_id\": ";
    append_json_string(out, plan.plan_id);
    out += ", \"slice\": " + std::to_string(slice) + ",\n \"partitions\": ";
    out += json_array(plan.slices.at(static_cast<std::size_t>(slice)));
    out += "}\n";
    return out;
}

PlanIndex index_from_json(std::string_view text, const std::string& origin) {
    return parsed(text, origin, "slice plan", [&](const nlohmann::json& j) {
        PlanIndex index;
        index.unit = j.at("unit").get<std::string>();
        index.plan_id = j.at("plan_id").get<std::string>();
        index.generation = j.at("generation").get<std::uint64_t>();
        index.definition = j.at("definition").get<std::string>();
        const auto& summary = j.at("summary");
        index.summary = {summary.at("new").get<std::size_t>(), summary.at("changed").get<std::size_t>(),
                         summary.at("up_to_date").get<std::size_t>(), summary.at("retracted").get<std::size_t>()};
        index.inputs = j.at("inputs").get<std::vector<std::string>>();
        const auto& slices = j.at("slices");
        if (slices.size() != j.at("slice_count").get<std::size_t>())
            throw StateError("slice plan '" + origin + "': slice_count does not match slices");
        for (std::size_t i = 0; i < slices.size(); ++i) {
            if (slices[i].at("slice").get<std::size_t>() != i) throw StateError("slice plan '" + origin + "': slices are out of order");
            index.slice_sizes.push_back(slices[i].at("partitions").get<std::size_t>());
            index.part_digests.push_back(slices[i].at("digest").get<std::string>());
        }
        return index;
    }, /*sealed=*/true);
}

SlicePart part_from_json(std::string_view text, const std::string& origin) {
    return parsed(text, origin, "slice plan part", [&](const nlohmann::json& j) {
        SlicePart part;
        part.unit = j.at("unit").get<std::string>();
        part.plan_id = j.at("plan_id").get<std::string>();
        part.slice = j.at("slice").get<int>();
        part.partitions = j.at("partitions").get<std::vector<std::string>>();
        return part;
    });
}

void write_plan(const StateLayout& state, const SlicePlan& plan) {
    std::error_code ec;
    fs::remove_all(state.plan_parts_dir(plan.unit), ec);  // parts of an older, longer plan must go
    std::vector<std::string> digests;
    for (std::size_t i = 0; i < plan.slices.size(); ++i) {
        interruption_point();  // before the index: an interrupted plan is never vouched for
        const std::string part = part_json(plan, static_cast<int>(i));
        digests.push_back(sha256_hex(part));
        write_file_atomically(state.plan_part(plan.unit, static_cast<int>(i)), part);
    }
    sync_filesystem(state.plan_parts_dir(plan.unit));  // once for all parts, before the index vouches for them
    write_file_atomically(state.plan(plan.unit), index_json(plan, digests), AtomicFile::Durability::durable);
}

PlanIndex read_plan_index(const StateLayout& state, std::string_view unit) {
    const fs::path path = state.plan(unit);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw StateError("no slice plan at '" + path.string() + "': run the slicer first (steppar-host run)");
    return index_from_json(read_file(path), path.string());
}

SlicePart read_slice_part(const StateLayout& state, std::string_view unit, int slice) {
    const PlanIndex index = read_plan_index(state, unit);
    if (slice < 0 || static_cast<std::size_t>(slice) >= index.slice_sizes.size())
        throw UsageError("'" + std::string(unit) + "' has " + std::to_string(index.slice_sizes.size()) + " slices (0.." +
                         std::to_string(static_cast<long>(index.slice_sizes.size()) - 1) + "), there is no slice " +
                         std::to_string(slice));
    const fs::path path = state.plan_part(unit, slice);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw StateError("slice plan part '" + path.string() + "' is missing; rerun the pipeline to re-slice");
    const std::string text = read_file(path);
    // The index vouches for its parts: a part edited, even keeping its size, is refused.
    if (sha256_hex(text) != index.part_digests[static_cast<std::size_t>(slice)])
        throw StateError("slice plan part '" + path.string() + "' is damaged or belongs to another plan (its checksum does not match "
                         "the plan's); rerun the pipeline to re-slice");
    SlicePart part = part_from_json(text, path.string());
    if (part.plan_id != index.plan_id || part.slice != slice || part.unit != unit ||
        part.partitions.size() != index.slice_sizes[static_cast<std::size_t>(slice)])
        throw StateError("slice plan part '" + path.string() + "' belongs to another plan; rerun the pipeline to re-slice");
    return part;
}

}  // namespace steppar
