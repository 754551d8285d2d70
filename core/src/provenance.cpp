#include "steppar/provenance.hpp"

#include "steppar/definition_store.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/freshness.hpp"
#include "steppar/ledger.hpp"
#include "steppar/marker.hpp"
#include "steppar/plan.hpp"
#include "steppar/stamp.hpp"
#include "steppar/text.hpp"
#include "steppar/vouching.hpp"

#include <algorithm>
#include <map>

namespace fs = std::filesystem;

namespace steppar {
namespace {

std::string stamp_text(const FileStamp& stamp) {
    if (!stamp.exists()) return {};
    std::string text;
    append_stamp(text, stamp);
    return text;
}

// When a file was written, from its stamp's text ("" when it is none).
std::string utc_of(const std::string& stamp) {
    FileStamp s;
    return !stamp.empty() && parse_stamp(stamp, s) ? mtime_utc(s) : std::string();
}

// The partition of `dataset` that `path` is, or "" when it is none of its partitions.
std::string partition_of(const Dataset& dataset, const fs::path& path) {
    const fs::path relative = path.lexically_relative(dataset.path);
    if (relative.empty() || *relative.begin() == "..") return {};
    std::string name;
    for (auto it = relative.begin(); it != relative.end(); ++it) {
        std::string part = it->string();
        if (part.empty() || part.front() == '.') return {};  // hidden: never a partition
        const bool last = std::next(it) == relative.end();
        const std::string& suffix = last ? dataset.suffix : dataset.folder_suffix;
        if (part.size() < suffix.size() || part.compare(part.size() - suffix.size(), suffix.size(), suffix) != 0) return {};
        part.resize(part.size() - suffix.size());
        if (part.empty()) return {};
        name += (name.empty() ? "" : "/") + part;
    }
    return name;
}

// The slice of plan `generation` that had `partition`, when that plan is still the unit's.
int slice_of(const StateLayout& state, const std::string& unit, std::uint64_t generation, const std::string& partition) {
    try {
        const PlanIndex index = read_plan_index(state, unit);
        if (index.generation != generation) return -1;
        return slice_holding(state, unit, index, partition);
    } catch (const Error&) {
    }
    return -1;
}

// A partition of a unit over partitions, from its ledger record.
void explain_partition(Project& project, const Unit& unit, Provenance& p) {
    const Pipeline& pipeline = project.pipeline();
    const Ledger ledger = Ledger::lookup(project.state(), unit.name, p.partition);  // its record alone
    const std::size_t at = ledger.find(p.partition);
    if (at == ledger.size()) {
        p.kind = stamp_of(p.path).exists() ? Provenance::Kind::foreign : Provenance::Kind::not_made;
        p.note = p.kind == Provenance::Kind::foreign ? "'" + unit.name + "' has no record of partition '" + p.partition + "': steppar did not write this file (kept, and read by what reads the folder)"
                                                     : "'" + unit.name + "' has not made partition '" + p.partition + "' yet";
        return;
    }
    p.kind = Provenance::Kind::made;
    const LedgerEntry record = ledger.entry(at);
    p.generation = record.generation;
    p.slice = slice_of(project.state(), unit.name, record.generation, p.partition);

    // Inputs: the zipped partitioned inputs in order, as records hold them.
    std::vector<std::string> inputs;
    for (const auto& n : unit.nodes)
        for (const auto& in : n.inputs) {
            if (Node::is_param(in) || !pipeline.catalog().at(in).partitioned()) continue;
            bool internal = false;  // made by an earlier node of the same chain
            for (const auto& m : unit.nodes)
                internal = internal || std::find(m.outputs.begin(), m.outputs.end(), in) != m.outputs.end();
            if (!internal && std::find(inputs.begin(), inputs.end(), in) == inputs.end()) inputs.push_back(in);
        }
    std::vector<FileStamp> then;
    const bool parsed_inputs = parse_stamps(record.inputs, then, inputs.size());
    bool input_gone = false;
    std::uint8_t input_bits = 0;
    bool upstream = false;
    const int self = static_cast<int>(&unit - pipeline.units().data());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Dataset& d = pipeline.catalog().at(inputs[i]);
        const FileStamp now = stamp_of(d.partition_path(p.partition));
        StampThenNow s{inputs[i], d.partition_path(p.partition), parsed_inputs ? stamp_text(then[i]) : std::string(record.inputs), stamp_text(now)};
        if (!now.exists()) input_gone = true;
        else if (parsed_inputs && s.changed()) {
            const std::uint8_t bits = (then[i].size != now.size ? 1 : 0) | (then[i].mtime_ns != now.mtime_ns ? 2 : 0) | (then[i].ctime_ns != now.ctime_ns ? 4 : 0);
            input_bits |= bits;
            for (const int producer : pipeline.producers(inputs[i])) upstream = upstream || producer != self;
        }
        p.inputs.push_back(std::move(s));
    }
    // Outputs: every output of its nodes in order.
    std::vector<std::string> outputs;
    for (const auto& n : unit.nodes) outputs.insert(outputs.end(), n.outputs.begin(), n.outputs.end());
    const bool parsed_outputs = parse_stamps(record.outputs, then, outputs.size());
    bool missing = false, modified = false;
    for (std::size_t k = 0; k < outputs.size(); ++k) {
        const Dataset& d = pipeline.catalog().at(outputs[k]);
        StampThenNow s{outputs[k], d.partition_path(p.partition), parsed_outputs ? stamp_text(then[k]) : std::string(), stamp_text(stamp_of(d.partition_path(p.partition)))};
        if (s.changed()) (s.now.empty() ? missing : modified) = true;
        if (s.path == p.path) p.made_at = utc_of(s.then);
        p.outputs.push_back(std::move(s));
    }

    // The definition then and now, and what of it changed.
    DefinitionParts parts(project.state(), unit.name);
    std::string unit_digest;
    const std::string unit_parts = unit_definition_parts(project, unit, &unit_digest);
    parts.add(unit_digest, unit_parts);
    PartitionDefinitions definitions(unit_digest, pipeline.configurators(unit));
    const Configurator* chosen = nullptr;
    p.definition_now = definitions.of(p.partition, &chosen);
    if (!parts.has(p.definition_now)) parts.add(p.definition_now, configured_parts_json(unit_digest, chosen));
    p.definition_then = record.definition < ledger.definitions().size() ? ledger.definitions()[record.definition] : std::string();
    p.parts_now = parts.find(p.definition_now).value_or("");
    p.parts_then = parts.find(p.definition_then).value_or("");
    std::uint8_t definition_bits = 0;
    if (p.definition_then != p.definition_now) {
        p.definition_changes = parts.changes(p.definition_then, p.definition_now);
        definition_bits = parts.difference(p.definition_then, p.definition_now);
    }

    // The verdict: every reason that holds now, in the order freshness.hpp judges them.
    if (input_gone) {
        p.verdict.emplace_back(retract_code);
        return;
    }
    if (p.definition_then != p.definition_now) p.verdict.push_back(reason_code({Reason::definition_changed, definition_bits}));
    if (upstream) p.verdict.push_back(reason_code({Reason::upstream_rebuilt}));
    else if (input_bits) p.verdict.push_back(reason_code({Reason::input_changed, input_bits}));
    if (missing) p.verdict.push_back(reason_code({Reason::output_missing}));
    if (modified) p.verdict.push_back(reason_code({Reason::output_changed}));
}

// A whole-function node's input partitions that differ between the listing it ran with (kept
// under its fingerprint) and now: into p.inputs, the first `listed` of them; the count in p.note.
void compare_whole_inputs(Project& project, const Unit& unit, const std::string& fingerprint_then, const std::string& inputs_now,
                          Provenance& p) {
    constexpr std::size_t listed = 20;
    const fs::path kept = project.state().node_inputs(unit.name, fingerprint_then);
    std::string text;
    try {
        text = read_file(kept);
    } catch (const std::exception&) {
        p.note = "the node's input listing of that run is not kept (" + kept.string() + "), so the partitions that changed cannot be named";
        return;
    }
    std::map<std::pair<std::string, std::string>, std::string> then, now;
    try {
        then = parse_whole_node_inputs(text);
        now = parse_whole_node_inputs(inputs_now);
    } catch (const StateError& e) {
        p.note = kept.string() + ": " + e.what() + ", so the partitions that changed cannot be named";
        return;
    }
    std::size_t differ = 0;
    const auto differs = [&](const std::pair<std::string, std::string>& key, const std::string& was, const std::string& is) {
        if (++differ > listed) return;
        const Dataset& d = project.pipeline().catalog().at(key.first);
        p.inputs.push_back({key.first, d.partition_path(key.second), was, is});
    };
    auto a = then.begin(), b = now.begin();
    while (a != then.end() || b != now.end()) {
        if (b == now.end() || (a != then.end() && a->first < b->first)) differs(a->first, a->second, ""), ++a;
        else if (a == then.end() || b->first < a->first) differs(b->first, "", b->second), ++b;
        else {
            if (a->second != b->second) differs(a->first, a->second, b->second);
            ++a, ++b;
        }
    }
    if (differ > listed) p.note = count_text(differ) + " input partitions differ from the run that made it; the first " + std::to_string(listed) + " are listed";
}

// An output of a whole-function node, from its marker.
void explain_whole(Project& project, const Unit& unit, Provenance& p) {
    std::optional<Marker> marker;
    try {
        marker = read_marker(project.state().node_marker(unit.name));
    } catch (const StateError& e) {
        p.kind = Provenance::Kind::made;
        p.verdict.push_back("marker-damaged");
        p.note = e.what();
        return;
    }
    const auto written = marker ? marker->written.find(p.path) : decltype(marker->written)::const_iterator{};
    if (!marker || !marker->success || written == marker->written.end()) {
        p.kind = stamp_of(p.path).exists() ? Provenance::Kind::foreign : Provenance::Kind::not_made;
        p.note = p.kind == Provenance::Kind::foreign ? "node '" + unit.name + "' did not write this file in its last successful run"
                                                     : "node '" + unit.name + "' has not made it";
        return;
    }
    p.kind = Provenance::Kind::made;
    p.made_at = utc_of(written->second);
    for (const auto& [path, stamp] : marker->written) {
        StampThenNow s{"", path, stamp, stamp_text(stamp_of(path))};
        if (path == p.path || s.changed()) p.outputs.push_back(std::move(s));
    }
    DefinitionParts parts(project.state(), unit.name);
    std::string digest;
    const std::string now_parts = unit_definition_parts(project, unit, &digest);
    parts.add(digest, now_parts);
    p.definition_now = digest;
    p.definition_then = marker->definition;
    p.parts_now = now_parts;
    p.parts_then = parts.find(p.definition_then).value_or("");
    std::uint8_t bits = 0;
    if (!p.definition_then.empty() && p.definition_then != p.definition_now) {
        p.definition_changes = parts.changes(p.definition_then, p.definition_now);
        bits = parts.difference(p.definition_then, p.definition_now);
    }
    std::string inputs_now;
    const std::string fingerprint_now = whole_node_fingerprint(project, unit, &inputs_now);
    if (marker->fingerprint != fingerprint_now) compare_whole_inputs(project, unit, marker->fingerprint, inputs_now, p);
    std::string why;
    if (!needs_run(project, unit, false, &why)) return;
    if (!p.definition_then.empty() && p.definition_then != p.definition_now) p.verdict.push_back(reason_code({Reason::definition_changed, bits}));
    else if (marker->fingerprint != fingerprint_now) {
        std::uint8_t input_bits = 0;
        bool added = false, gone = false;
        for (const auto& s : p.inputs) {
            FileStamp then, now;
            if (s.then.empty()) added = true;
            else if (s.now.empty()) gone = true;
            else if (parse_stamp(s.then, then) && parse_stamp(s.now, now))
                input_bits |= (then.size != now.size ? 1 : 0) | (then.mtime_ns != now.mtime_ns ? 2 : 0) | (then.ctime_ns != now.ctime_ns ? 4 : 0);
        }
        if (added) p.verdict.push_back(reason_code({Reason::new_partition}));
        if (gone) p.verdict.push_back(std::string(whole_input_deleted_code));
        if (input_bits || (!added && !gone)) p.verdict.push_back(reason_code({Reason::input_changed, input_bits}));
    }
    for (const auto& s : p.outputs)
        if (s.changed()) p.verdict.push_back(reason_code({s.now.empty() ? Reason::output_missing : Reason::output_changed}));
    if (p.verdict.empty()) p.verdict.push_back(why);
}

}  // namespace

Provenance explain_output(Project& project, const fs::path& asked) {
    const Pipeline& pipeline = project.pipeline();
    Provenance p;
    const fs::path path = fs::absolute(asked).lexically_normal();
    p.path = path.string();
    // The dataset holding it: a file dataset by its path, a partitioned one by folder and suffix.
    const Dataset* found = nullptr;
    for (const auto& [name, d] : pipeline.catalog().all()) {
        if (d.partitioned()) {
            const std::string partition = partition_of(d, path);
            if (partition.empty()) continue;
            // Of two datasets that both hold it (one inside another), the innermost folder.
            if (found && found->path.native().size() >= d.path.native().size()) continue;
            found = &d;
            p.partition = partition;
        } else if (d.path.lexically_normal() == path) {
            found = &d;
            p.partition.clear();
            break;
        }
    }
    if (!found)
        throw UsageError("'" + p.path + "' is no file of any dataset of '" + project.pipeline_file().filename().string() +
                         "' (a partition's file, with its dataset's suffix, or a file dataset); 'steppar-host nodes' lists them");
    p.dataset = found->name;
    const auto& producers = pipeline.producers(found->name);
    if (producers.empty()) {
        p.kind = Provenance::Kind::foreign;
        p.note = "'" + found->name + "' is an input of the pipeline: no node writes it";
        return p;
    }
    // Of several producers (disjoint partitions), the one whose record or marker has it.
    for (const int u : producers) {
        const Unit& unit = pipeline.units()[static_cast<std::size_t>(u)];
        Provenance attempt = p;
        attempt.unit = unit.name;
        for (const auto& n : unit.nodes)
            if (std::find(n.outputs.begin(), n.outputs.end(), found->name) != n.outputs.end()) attempt.nodes.push_back(n.name);
        const bool whole = !unit.replicated() && project.function(unit.nodes.front()).kind == NodeKind::whole;
        if (whole) explain_whole(project, unit, attempt);
        else if (!p.partition.empty()) explain_partition(project, unit, attempt);
        else {
            attempt.kind = Provenance::Kind::foreign;
            attempt.note = "not a partition";
        }
        if (attempt.kind == Provenance::Kind::made || u == producers.back()) {
            if (attempt.kind != Provenance::Kind::made && producers.size() > 1) attempt.unit.clear(), attempt.nodes.clear();
            return attempt;
        }
    }
    return p;
}

}  // namespace steppar
