// `steppar-host why PIPELINE PATH [--format text|json]`: what made an output, from what, and
// whether a run would remake it now, and why (provenance.hpp).
#include "commands.hpp"

#include "command_line.hpp"

#include <steppar/provenance.hpp>
#include <steppar/stamp.hpp>
#include <steppar/text.hpp>

#include <nlohmann/json.hpp>

#include <iostream>

namespace steppar::cli {
namespace {

const char* kind_name(Provenance::Kind kind) {
    switch (kind) {
    case Provenance::Kind::made: return "made";
    case Provenance::Kind::foreign: return "foreign";
    case Provenance::Kind::not_made: return "not made";
    }
    return "?";
}

nlohmann::json stamps_json(const std::vector<StampThenNow>& stamps) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : stamps)
        out.push_back({{"dataset", s.dataset}, {"path", s.path}, {"then", s.then}, {"now", s.now}, {"changed", s.changed()}});
    return out;
}

nlohmann::json parts_json(const std::string& text) {
    if (text.empty()) return nullptr;
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        return nullptr;
    }
}

// "21 bytes, modified 2026-12-04T16:56:08.415692Z" from a stamp's text; "missing" for none.
std::string in_words(const std::string& stamp) {
    FileStamp s;
    if (stamp.empty() || !parse_stamp(stamp, s) || !s.exists()) return "missing";
    return std::to_string(s.size) + " bytes, modified " + mtime_utc(s);
}

void print_stamps(const char* title, const std::vector<StampThenNow>& stamps) {
    for (const auto& s : stamps) {
        std::cout << title << "\t" << s.path << "\t";
        if (!s.changed()) std::cout << "unchanged (" << in_words(s.then) << ")\n";
        else std::cout << "then " << in_words(s.then) << "; now " << in_words(s.now) << "\n";
    }
}

}  // namespace

int why_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("path", po::value<std::string>()->required(), "the output file to explain (also the second argument)")(
        "format", po::value<std::string>()->default_value("text"), "text or json");
    const auto parsed = parse("why",
                              "Says what made an output file (node, unit, slice, partition, plan generation, when), "
                              "from which inputs and definition, and whether a run would make it again now and why: "
                              "each input's and output's stamp then and now, and which param, plugin, function or "
                              "setting of the definition changed. A file steppar did not write is 'foreign'.",
                              options, argc, argv);
    if (parsed.help) return 0;
    const auto format = text_or_json(parsed);
    auto project = open_project(parsed);
    const Provenance p = explain_output(*project, parsed.values["path"].as<std::string>());
    if (format == "json") {
        nlohmann::json j = {{"path", p.path}, {"kind", kind_name(p.kind)}, {"dataset", p.dataset}, {"partition", p.partition},
                            {"unit", p.unit}, {"nodes", p.nodes}, {"slice", p.slice < 0 ? nlohmann::json(nullptr) : nlohmann::json(p.slice)},
                            {"generation", p.generation}, {"made_at", p.made_at}, {"inputs", stamps_json(p.inputs)},
                            {"outputs", stamps_json(p.outputs)},
                            {"definition", {{"then", p.definition_then}, {"now", p.definition_now}, {"parts_then", parts_json(p.parts_then)},
                                            {"parts_now", parts_json(p.parts_now)}, {"changes", p.definition_changes}}},
                            {"up_to_date", p.kind == Provenance::Kind::made && p.verdict.empty()}, {"verdict", p.verdict}, {"note", p.note}};
        std::cout << j.dump(1) << "\n";
        return 0;
    }
    std::cout << "path\t" << p.path << "\n";
    std::cout << "dataset\t" << p.dataset << (p.partition.empty() ? "" : "\tpartition " + p.partition) << "\n";
    if (p.kind != Provenance::Kind::made) {
        std::cout << kind_name(p.kind) << "\t" << p.note << "\n";
        return 0;
    }
    std::cout << "made by\tunit " << p.unit << " (node " << join(p.nodes, ", node ") << ")"
              << (p.slice >= 0 ? ", slice " + std::to_string(p.slice) : "")
              << (p.generation ? ", plan generation " + std::to_string(p.generation) : "") << (p.made_at.empty() ? "" : ", at " + p.made_at)
              << "\n";
    print_stamps("input", p.inputs);
    print_stamps("output", p.outputs);
    if (p.definition_then == p.definition_now) std::cout << "definition\tunchanged (" << p.definition_now.substr(0, 12) << ")\n";
    else if (p.definition_then.empty())
        std::cout << "definition\tnot recorded by the run that made it (an earlier steppar); now " << p.definition_now.substr(0, 12) << "\n";
    else if (p.definition_changes.empty())
        std::cout << "definition\tchanged (" << p.definition_then.substr(0, 12) << " -> " << p.definition_now.substr(0, 12)
                  << "; its parts then were not kept, so what changed cannot be named)\n";
    for (const auto& change : p.definition_changes) std::cout << "definition\t" << change << "\n";
    std::cout << "verdict\t" << (p.verdict.empty() ? "up to date: a run would keep it" : "a run would remake it: " + join(p.verdict, ", ")) << "\n";
    return 0;
}

}  // namespace steppar::cli
