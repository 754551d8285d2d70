#include "steppar/freshness.hpp"
#include "steppar/watched_scan.hpp"

#include "steppar/definition.hpp"
#include "steppar/definition_store.hpp"
#include "steppar/error.hpp"
#include "steppar/hash.hpp"
#include "steppar/interruption.hpp"
#include "steppar/partition_selection.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <thread>

namespace fs = std::filesystem;

namespace steppar {

const char* to_string(Reason reason) {
    switch (reason) {
    case Reason::new_partition: return "new-input";
    case Reason::forced: return "forced";
    case Reason::input_changed: return "input-changed";
    case Reason::upstream_rebuilt: return "upstream-rebuilt";
    case Reason::definition_changed: return "definition-changed";
    case Reason::output_missing: return "output-missing";
    case Reason::output_changed: return "output-modified-by-someone-else";
    }
    return "?";
}

std::string reason_code(const Why& why) {
    std::string code = to_string(why.reason);
    if (why.reason == Reason::input_changed && why.detail) {
        code += ':';
        code += (why.detail & 1) ? "size" : (why.detail & 2) ? "mtime" : "ctime";
    } else if (why.reason == Reason::definition_changed && why.detail) {
        code += ':' + definition_part_names(why.detail);
    }
    return code;
}

std::vector<ReasonCount> reason_counts(const Assessment& a, std::size_t examples) {
    std::vector<ReasonCount> counts;
    std::map<std::string, std::size_t> index;
    auto add = [&](const std::string& code, const std::string& partition) {
        auto [it, added] = index.emplace(code, counts.size());
        if (added) counts.push_back({code, 0, {}});
        ReasonCount& c = counts[it->second];
        ++c.count;
        if (c.partitions.size() < examples) c.partitions.push_back(partition);
    };
    for (std::size_t i = 0; i < a.dirty.size() && i < a.reasons.size(); ++i) add(reason_code(a.reasons[i]), a.dirty[i]);
    for (const auto& [name, _] : a.retract) add(std::string(retract_code), name);
    return counts;
}

std::string reasons_text(const std::vector<ReasonCount>& counts) {
    std::vector<std::string> parts;
    for (const auto& c : counts)
        parts.push_back(c.code + " " + count_text(c.count) + " (" + join(c.partitions) + (c.count > c.partitions.size() ? ", ..." : "") + ")");
    return join(parts, "; ");
}

namespace {

UnitDefinition definition_of(Project& project, const Unit& unit) {
    const Pipeline& pipeline = project.pipeline();
    UnitDefinition definition;
    for (const auto& n : unit.nodes) {
        NodeDefinition node{n.name, n.function.text(), project.plugins().digest(n.function.plugin), n.inputs, n.outputs, {}};
        for (const auto& in : n.inputs)
            if (Node::is_param(in)) node.params[in] = pipeline.params().find(Node::param_name(in))->second;
        definition.nodes.push_back(std::move(node));
        std::vector<std::string> datasets = n.outputs;
        for (const auto& in : n.inputs)
            if (!Node::is_param(in)) datasets.push_back(in);
        for (const auto& name : datasets) {
            const Dataset& d = pipeline.catalog().at(name);
            definition.datasets[name] = {d.partitioned() ? "partitioned" : "file", d.path.string(), d.suffix, d.folder_suffix};
            // A whole-file input (a lookup table) counts as definition: when it changes, every
            // partition runs again.
            const auto& producers = pipeline.producers(name);
            if (!d.partitioned() && std::find(producers.begin(), producers.end(), static_cast<int>(&unit - pipeline.units().data())) == producers.end()) {
                std::string stamp;
                append_stamp(stamp, stamp_of(d.path.string()));
                definition.files[name] = stamp;
            }
        }
    }
    return definition;
}

}  // namespace

std::string unit_definition(Project& project, const Unit& unit) { return definition_digest(definition_of(project, unit)); }

std::string unit_definition_parts(Project& project, const Unit& unit, std::string* digest) {
    const UnitDefinition definition = definition_of(project, unit);
    if (digest) *digest = definition_digest(definition);
    std::vector<PluginShown> plugins;
    for (const auto& n : unit.nodes) {
        const PluginDescriptor& d = project.plugins().descriptor(n.function.plugin);
        plugins.push_back({d.name ? d.name : "", d.version ? d.version : "", project.plugins().file(n.function.plugin).string()});
    }
    return unit_parts_json(definition, plugins);
}

PartitionDefinitions::PartitionDefinitions(std::string unit_definition, const ConfiguratorSet* configurators)
    : unit_(std::move(unit_definition)), configurators_(configurators) {}

const std::string& PartitionDefinitions::of(const std::string& partition, const Configurator** chosen) {
    if (!configurators_) {
        if (chosen) *chosen = nullptr;
        return unit_;
    }
    const Configurator* c = configurators_->choose(partition);
    if (chosen) *chosen = c;
    auto it = cache_.find(c);
    if (it == cache_.end())
        it = cache_.emplace(c, configured_definition_digest(unit_, c)).first;
    return it->second;
}

namespace {

// Whether an output's mtime lies after `now_ns`: set by hand (touch -d), by a machine whose
// clock runs ahead, or copied so; newer than any input forever, so make's rule proves nothing.
bool from_the_future(const std::vector<FileStamp>& outputs, std::int64_t now_ns) {
    return std::any_of(outputs.begin(), outputs.end(), [&](const FileStamp& s) { return s.exists() && s.mtime_ns > now_ns; });
}

// Whether outputs that exist are all at least as new as every input (make's rule).
bool adoptable(const FileStamp* inputs, std::size_t input_count, const std::vector<FileStamp>& outputs) {
    std::int64_t newest_input = 0;
    for (std::size_t i = 0; i < input_count; ++i) newest_input = std::max(newest_input, inputs[i].mtime_ns);
    for (const auto& out : outputs)
        if (!out.exists() || out.mtime_ns < newest_input) return false;
    return !outputs.empty();
}

}  // namespace

namespace {

// Other units that write one of this unit's outputs (several producers, pipeline.hpp): no
// partition may come from two of them. Returns, per output, what the others claim now or
// recorded last time, which this unit neither calls foreign nor retracts.
std::vector<std::vector<std::string>> co_producer_claims(Project& project, const Unit& unit, const std::vector<const Dataset*>& outputs,
                                                         const std::vector<std::string>& names, const std::vector<bool>& chosen) {
    const Pipeline& pipeline = project.pipeline();
    const int self = static_cast<int>(&unit - pipeline.units().data());
    std::vector<std::vector<std::string>> claimed(outputs.size());
    std::map<int, std::vector<std::string>> claims;  // other unit -> its partitions, now and recorded
    for (std::size_t k = 0; k < outputs.size(); ++k)
        for (const int other : pipeline.producers(outputs[k]->name)) {
            if (other == self) continue;
            const Unit& them = pipeline.units()[static_cast<std::size_t>(other)];
            auto found = claims.find(other);
            if (found == claims.end()) {
                std::vector<std::string> now = claimed_partitions(pipeline, them);
                // Where this unit's partitions meet theirs (both sorted), the first is the error.
                for (std::size_t i = 0, j = 0; i < names.size() && j < now.size();) {
                    const int order = names[i].compare(now[j]);
                    if (order == 0 && chosen[i])
                        throw InputError("partition '" + names[i] + "' of '" + outputs[k]->name + "' would be written by both '" + unit.name +
                                         "' and '" + them.name +
                                         "': each partition of a dataset several nodes write must come from one of them; leave it out of one "
                                         "(filter, exclude, date_range) or give one another output");
                    if (order <= 0) ++i;
                    if (order >= 0) ++j;
                }
                const Ledger recorded = Ledger::load(project.state(), them.name);
                for (std::size_t r = 0; r < recorded.size(); ++r) now.emplace_back(recorded.entry(r).name);
                std::sort(now.begin(), now.end());
                now.erase(std::unique(now.begin(), now.end()), now.end());
                found = claims.emplace(other, std::move(now)).first;
            }
            auto& mine = claimed[k];
            mine.insert(mine.end(), found->second.begin(), found->second.end());
        }
    for (auto& list : claimed) {
        std::sort(list.begin(), list.end());
        list.erase(std::unique(list.begin(), list.end()), list.end());
    }
    return claimed;
}

}  // namespace

Assessment assess(Project& project, const Unit& unit, const AssessOptions& options) {
    const Pipeline& pipeline = project.pipeline();
    Assessment a;
    // Before the scans: an output written while they run is not taken for one from the future.
    const std::int64_t assessed_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::system_clock::now().time_since_epoch()).count();
    std::vector<const Dataset*> outputs;
    for (const auto& n : unit.nodes)
        for (const auto& out : n.outputs) {
            outputs.push_back(&pipeline.catalog().at(out));
            a.outputs.push_back(out);
        }

    const int self = static_cast<int>(&unit - pipeline.units().data());
    // The output folders are scanned by a second thread while this one scans the inputs: on a
    // million partitions each scan is mostly stat(2) calls, and the two share no data.
    std::vector<PartitionScan> scans(outputs.size());
    std::exception_ptr scan_error;
    std::thread scanner([&] {
        try {
            for (std::size_t k = 0; k < outputs.size(); ++k) {
                // Written by this unit alone, and not yet in this run: the watch's events can stand for a walk.
                const auto& producers = pipeline.producers(outputs[k]->name);
                const bool only_this = std::all_of(producers.begin(), producers.end(), [&](int p) { return p == self; });
                scans[k] = only_this ? scan_watched(*outputs[k], /*missing_ok=*/true, &a.temporaries)
                                     : scan_partitions(*outputs[k], /*missing_ok=*/true, &a.temporaries);
            }
        } catch (...) {
            scan_error = std::current_exception();
        }
    });
    ZippedInputs zipped;
    std::vector<bool> chosen;
    auto loaded = std::make_shared<Ledger>();
    const Ledger& ledger = *loaded;
    try {
        *loaded = Ledger::load(project.state(), unit.name);
        // Stamps are compared with records only: a unit with none (its first run) or a forced
        // run needs no stat of its inputs, unless something else reads the stamps.
        const bool stamps = (ledger.size() > 0 && !options.force) || options.adopt || unit.options.balance == Balance::size;
        zipped = zip_inputs(pipeline, unit, stamps);
        check_output_collisions(pipeline, unit, zipped.names);  // before anything runs
        chosen = select_partitions(pipeline, unit, zipped.names, options.only);
        a.claimed = co_producer_claims(project, unit, outputs, zipped.names, chosen);
        a.definition_parts = std::make_shared<DefinitionParts>(project.state(), unit.name);
        const std::string parts = unit_definition_parts(project, unit, &a.definition);
        a.definition_parts->add(a.definition, parts);
        // Every configured definition a partition may be recorded with (the set is small).
        if (const ConfiguratorSet* set = pipeline.configurators(unit)) {
            a.definition_parts->add(configured_definition_digest(a.definition, nullptr), configured_parts_json(a.definition, nullptr));
            for (const auto& c : set->configurators())
                a.definition_parts->add(configured_definition_digest(a.definition, &c), configured_parts_json(a.definition, &c));
        }
    } catch (...) {
        scanner.join();
        throw;
    }
    scanner.join();
    if (scan_error) std::rethrow_exception(scan_error);

    a.inputs = zipped.inputs;
    a.partitions = zipped.names.size();
    a.damaged = ledger.damaged();
    a.ledger = loaded;
    PartitionDefinitions definitions(a.definition, pipeline.configurators(unit));
    const std::size_t input_count = zipped.inputs.size(), output_count = outputs.size();
    // Which inputs are made by another unit: a change there is that unit's rebuild.
    std::vector<bool> made_upstream(input_count);
    for (std::size_t i = 0; i < input_count; ++i)
        for (const int producer : pipeline.producers(zipped.inputs[i])) made_upstream[i] = made_upstream[i] || producer != self;
    std::vector<FileStamp> recorded_inputs;
    auto input_change = [&](std::string_view recorded, const FileStamp* inputs) {
        Why why{Reason::input_changed, 0};
        if (!parse_stamps(recorded, recorded_inputs, input_count)) return why;
        for (std::size_t i = 0; i < input_count; ++i) {
            const FileStamp& was = recorded_inputs[i];
            const FileStamp& is = inputs[i];
            const std::uint8_t bits = (was.size != is.size ? 1 : 0) | (was.mtime_ns != is.mtime_ns ? 2 : 0) | (was.ctime_ns != is.ctime_ns ? 4 : 0);
            if (bits && made_upstream[i]) return Why{Reason::upstream_rebuilt, 0};
            why.detail |= bits;
        }
        return why;
    };
    // Per (recorded definition, definition now): which parts differ, worked out once.
    std::map<std::pair<std::uint32_t, const std::string*>, std::uint8_t> part_changes;
    auto definition_change = [&](std::uint32_t recorded, const std::string& wanted, const Configurator* chosen) {
        if (!a.definition_parts->has(wanted)) a.definition_parts->add(wanted, configured_parts_json(a.definition, chosen));
        auto [it, added] = part_changes.emplace(std::pair{recorded, &wanted}, 0);
        if (added && recorded < ledger.definitions().size()) it->second = a.definition_parts->difference(ledger.definitions()[recorded], wanted);
        return Why{Reason::definition_changed, it->second};
    };

    // One walk over the sorted inputs, ledger and output folders together.
    std::vector<std::size_t> at(output_count, 0);
    std::vector<FileStamp> now(output_count);
    auto add_foreign = [&](std::size_t k, const std::string& partition) {
        const auto& claimed = a.claimed[k];
        if (!std::binary_search(claimed.begin(), claimed.end(), partition)) a.foreign.push_back(outputs[k]->partition_path(partition));
    };
    auto outputs_of = [&](const std::string& name) {
        for (std::size_t k = 0; k < output_count; ++k) {
            const auto& scan = scans[k];
            for (; at[k] < scan.names.size() && scan.names[at[k]] < name; ++at[k]) add_foreign(k, scan.names[at[k]]);
            now[k] = at[k] < scan.names.size() && scan.names[at[k]] == name ? scan.stamps[at[k]++] : FileStamp{};
        }
    };
    std::string now_text;  // reused: a million comparisons should not allocate a million strings
    auto text_of = [&](const FileStamp* stamps, std::size_t count) -> const std::string& {
        now_text.clear();
        for (std::size_t i = 0; i < count; ++i) {
            if (i) now_text.push_back(',');
            append_stamp(now_text, stamps[i]);
        }
        return now_text;
    };
    std::size_t z = 0, l = 0;
    LedgerEntry record;
    bool have_record = false;
    auto next_record = [&] {
        have_record = l < ledger.size();
        if (have_record) record = ledger.entry(l);
    };
    next_record();
    while (z < zipped.names.size() || have_record) {
        interruption_point();
        const int order = z >= zipped.names.size() ? 1 : !have_record ? -1 : zipped.names[z].compare(record.name);
        if (order > 0) {  // recorded, but its input is gone
            outputs_of(record.name);
            a.retract.emplace_back(record.name, std::string(record.outputs));
            ++l;
            next_record();
            continue;
        }
        const std::string& name = zipped.names[z];
        const bool recorded = order == 0;
        outputs_of(name);
        if (!chosen[z]) {
            ++a.left_out;
        } else {
            const FileStamp* inputs = zipped.stamps_of(z);
            auto dirty = [&](Why why) {
                a.dirty.push_back(name);
                a.reasons.push_back(why);
                std::uint64_t bytes = 0;
                for (std::size_t i = 0; inputs && i < input_count; ++i) bytes += static_cast<std::uint64_t>(std::max<std::int64_t>(inputs[i].size, 0));
                a.dirty_bytes.push_back(bytes);
                ++(why.reason == Reason::new_partition ? a.new_count : a.changed_count);
            };
            if (options.force) {
                dirty({recorded ? Reason::forced : Reason::new_partition});
            } else if (!recorded) {
                const bool future = options.adopt && from_the_future(now, assessed_at_ns);
                if (future) a.future_outputs.push_back(name);
                if (options.adopt && !future && adoptable(inputs, input_count, now))
                    a.adopt.push_back({name, std::vector<FileStamp>(inputs, inputs + input_count), now});
                else
                    dirty({Reason::new_partition});
            } else {
                const Configurator* chosen_configurator = nullptr;
                const std::string& wanted = definitions.of(name, &chosen_configurator);
                bool missing = false;
                for (const auto& s : now) missing = missing || !s.exists();
                if (record.definition >= ledger.definitions().size() || ledger.definitions()[record.definition] != wanted)
                    dirty(definition_change(record.definition, wanted, chosen_configurator));
                else if (record.inputs != text_of(inputs, input_count))
                    dirty(input_change(record.inputs, inputs));
                else if (record.outputs == text_of(now.data(), output_count))
                    ++a.up_to_date;  // also when an output the node skipped is missing, as recorded
                else if (missing)
                    dirty({Reason::output_missing});
                else
                    dirty({Reason::output_changed});
            }
        }
        ++z;
        if (recorded) {
            ++l;
            next_record();
        }
    }
    for (std::size_t k = 0; k < output_count; ++k)
        for (; at[k] < scans[k].names.size(); ++at[k]) add_foreign(k, scans[k].names[at[k]]);
    return a;
}

std::string summary(const Assessment& a) {
    std::string text = count_text(a.new_count) + " new, " + count_text(a.changed_count) + " changed, " + count_text(a.up_to_date) + " up to date";
    if (!a.retract.empty()) text += ", " + count_text(a.retract.size()) + " retracted";
    if (!a.adopt.empty()) text += ", " + count_text(a.adopt.size()) + " adopted";
    if (a.left_out) text += ", " + count_text(a.left_out) + " left out";
    return text;
}

std::string whole_node_fingerprint(Project& project, const Unit& unit, std::string* inputs) {
    const Pipeline& pipeline = project.pipeline();
    Sha256 digest;
    digest.update(unit_definition(project, unit));
    for (const auto& in : unit.nodes.front().inputs) {
        if (Node::is_param(in)) continue;
        const Dataset& d = pipeline.catalog().at(in);
        if (!d.partitioned()) continue;  // in the definition already
        digest.update("\n" + in + "\n");
        if (inputs) *inputs += "\n" + in + "\n";
        std::string text;
        const PartitionScan scan = pipeline.producers(in).empty() ? scan_watched(d, /*missing_ok=*/true) : scan_partitions(d, /*missing_ok=*/true);
        for (std::size_t i = 0; i < scan.names.size(); ++i) {
            text.clear();
            append_json_string(text, scan.names[i]);
            text.push_back(' ');
            append_stamp(text, scan.stamps[i]);
            text.push_back('\n');
            digest.update(text);
            if (inputs) *inputs += text;
        }
    }
    return digest.hex();
}

std::map<std::pair<std::string, std::string>, std::string> parse_whole_node_inputs(std::string_view listing) {
    std::map<std::pair<std::string, std::string>, std::string> stamps;
    std::string dataset;
    bool named = false;  // the line after an empty one names a dataset
    std::size_t number = 0;
    while (!listing.empty()) {
        const std::size_t end = listing.find('\n');
        const std::string_view line = listing.substr(0, end);
        listing.remove_prefix(end == std::string_view::npos ? listing.size() : end + 1);
        ++number;
        const auto bad = [&] { return StateError("line " + std::to_string(number) + " is not an input listing's line"); };
        if (line.empty()) {
            named = true;
            continue;
        }
        if (named) {
            dataset = std::string(line);
            named = false;
            continue;
        }
        // "name" STAMP: the name is a JSON string, so its closing quote is the first unescaped one.
        std::size_t close = 1;
        while (close < line.size() && line[close] != '"') close += line[close] == '\\' ? 2 : 1;
        if (dataset.empty() || line.front() != '"' || close + 1 >= line.size() || line[close + 1] != ' ') throw bad();
        std::string partition;
        try {
            partition = nlohmann::json::parse(line.substr(0, close + 1)).get<std::string>();
        } catch (const nlohmann::json::exception&) {
            throw bad();
        }
        stamps[{dataset, partition}] = std::string(line.substr(close + 2));
    }
    return stamps;
}

}  // namespace steppar
