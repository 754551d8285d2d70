// The pipeline file (YAML or JSON) read into a Pipeline: spec_guards.cpp has checked the text
// first, then the yaml-cpp tree is walked here, key by key, with one clear error per mistake.
// yaml-cpp is included here, in spec_guards.cpp and in cluster_export.cpp only.
#include "steppar/spec.hpp"

#include "spec_guards.hpp"

#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

namespace fs = std::filesystem;

namespace steppar {
namespace {

class Parser {
public:
    Parser(fs::path file, fs::path intermediate_root)
        : file_(std::move(file)), intermediate_root_(std::move(intermediate_root)) {}

    PipelineFile parse(const std::string& text) {
        if (file_.extension() == ".json") check_json_text(file_, text);
        YAML::Node root;
        try {
            check_yaml_events(file_, text);
            root = YAML::Load(text);
        } catch (const YAML::ParserException& e) {
            throw SpecError(file_.string(), e.mark.line + 1, "malformed YAML/JSON: " + e.msg);
        }
        if (!root.IsMap()) fail(root, "the pipeline file must be a mapping with 'plugins', 'catalog', 'params' and 'nodes'");
        check_keys(root, {"plugins", "catalog", "params", "nodes"}, "the top level");

        PipelineFile result;
        result.path = file_;
        if (const auto plugins = root["plugins"]) {
            expect_map(plugins, "'plugins'");
            for (const auto& entry : plugins)
                result.plugins.push_back({scalar(entry.first, "plugin alias"), scalar(entry.second, "plugin reference"),
                                          line(entry.first)});
        }
        Catalog catalog;
        if (const auto datasets = root["catalog"]) {
            expect_map(datasets, "'catalog'");
            for (const auto& entry : datasets) catalog.add(dataset(entry.first, entry.second));
        }
        std::map<std::string, std::string, std::less<>> params;
        if (const auto values = root["params"]) {
            expect_map(values, "'params'");
            for (const auto& entry : values) params[scalar(entry.first, "parameter name")] = to_json(entry.second).dump();
        }
        const auto nodes = root["nodes"];
        if (!nodes) fail(root, "missing 'nodes': list the pipeline's nodes");
        if (!nodes.IsSequence()) fail(nodes, "'nodes' must be a list");
        Fragment fragment;
        for (const auto& entry : nodes) fragment = std::move(fragment) + unit(entry);
        result.pipeline = Pipeline(std::move(catalog), std::move(params), std::move(fragment), file_, intermediate_root_);
        return result;
    }

private:
    static int line(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

    [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const {
        throw SpecError(file_.string(), line(at), message);
    }

    void expect_map(const YAML::Node& node, const std::string& what) const {
        if (!node.IsMap()) fail(node, what + " must be a mapping (key: value)");
    }

    std::string scalar(const YAML::Node& node, const std::string& what) const {
        if (!node.IsScalar()) fail(node, what + " must be a single value");
        if (!valid_utf8(node.Scalar())) fail(node, what + " is not valid UTF-8 (save the file as UTF-8)");
        return node.Scalar();
    }

    void check_keys(const YAML::Node& map, const std::vector<std::string>& valid, const std::string& where) const {
        for (const auto& entry : map) {
            const std::string key = scalar(entry.first, "a key");
            if (std::find(valid.begin(), valid.end(), key) == valid.end())
                fail(entry.first, "unknown key '" + key + "' in " + where + suggestion(key, valid));
        }
    }

    std::vector<std::string> names(const YAML::Node& node, const std::string& what) const {
        if (!node) return {};
        if (node.IsScalar()) return {node.Scalar()};
        if (!node.IsSequence()) fail(node, what + " must be a name or a list of names");
        std::vector<std::string> out;
        for (const auto& item : node) out.push_back(scalar(item, what));
        return out;
    }

    Dataset dataset(const YAML::Node& key, const YAML::Node& value) const {
        Dataset d;
        d.name = scalar(key, "dataset name");
        d.line = line(key);
        if (!value.IsMap()) fail(key, "dataset '" + d.name + "' must be a mapping like {type: partitioned, path: data/x}");
        check_keys(value, {"type", "path", "suffix"}, "dataset '" + d.name + "'");
        const std::string type = value["type"] ? scalar(value["type"], "type") : "partitioned";
        if (type == "partitioned")
            d.kind = DatasetKind::partitioned;
        else if (type == "file")
            d.kind = DatasetKind::file;
        else
            fail(value["type"], "dataset '" + d.name + "': unknown type '" + type + "' (valid: partitioned, file)");
        if (!value["path"]) fail(key, "dataset '" + d.name + "' has no 'path'");
        const fs::path path = scalar(value["path"], "path");
        d.path = (path.is_absolute() ? path : file_.parent_path() / path).lexically_normal();
        if (value["suffix"]) {
            if (d.kind == DatasetKind::file) fail(value["suffix"], "dataset '" + d.name + "': 'suffix' is only for partitioned datasets");
            d.suffix = scalar(value["suffix"], "suffix");
        }
        return d;
    }

    Node node(const YAML::Node& entry, bool allow_slices, Slices* slices, bool* replicated) const {
        if (!entry.IsMap()) fail(entry, "a node must be a mapping with name, func, inputs and outputs");
        std::vector<std::string> valid = {"name", "func", "inputs", "outputs"};
        if (allow_slices)
            valid.insert(valid.end(), {"slices", "timeout", "retries", "resources", "filter", "exclude", "date_range", "strict", "tags", "namespace",
                                       "configurator", "balance"});
        check_keys(entry, valid, "node" + (entry["name"] && entry["name"].IsScalar() ? " '" + entry["name"].Scalar() + "'" : std::string()));
        if (!entry["name"]) fail(entry, "node without 'name'");
        const std::string name = scalar(entry["name"], "name");
        if (!entry["func"]) fail(entry, "node '" + name + "' has no 'func' (e.g. func: builtin.wc)");
        Node n;
        n.name = name;
        n.line = line(entry);
        try {
            n.function = FunctionRef::parse(scalar(entry["func"], "func"));
        } catch (const std::invalid_argument& e) {
            fail(entry["func"], "node '" + name + "': " + e.what());
        }
        n.inputs = names(entry["inputs"], "inputs");
        n.outputs = names(entry["outputs"], "outputs");
        if (allow_slices && entry["slices"]) {
            *slices = parse_slices(entry["slices"], name);
            *replicated = true;
        }
        return n;
    }

    Slices parse_slices(const YAML::Node& value, const std::string& owner) const {
        const std::string text = scalar(value, "slices");
        if (text == "auto") return Slices::automatic();
        try {
            std::size_t used = 0;
            const int n = std::stoi(text, &used);
            if (used == text.size()) return Slices::fixed(n);
        } catch (const std::exception&) {
        }
        fail(value, "'" + owner + "': slices must be a whole number or 'auto', got '" + text + "'");
    }

    bool boolean(const YAML::Node& value, const std::string& what) const {
        const std::string text = scalar(value, what);
        if (text == "true" || text == "True") return true;
        if (text == "false" || text == "False") return false;
        fail(value, what + " must be true or false, got '" + text + "'");
    }

    // "512M", "8G", "1.5T", "1024" (bytes): binary units, as Slurm and Kubernetes read them.
    std::uint64_t parse_size(const YAML::Node& value, const std::string& owner) const {
        const std::string text = scalar(value, "mem");
        double bytes = 0;
        try {
            std::size_t used = 0;
            const double amount = std::stod(text, &used);
            std::string unit = text.substr(used);
            if (unit.size() == 2 && (unit[1] == 'i' || unit[1] == 'B')) unit.pop_back();  // "Gi", "GB" mean G here
            const double scale = unit.empty() ? 1 : unit == "K" ? 1024.0 : unit == "M" ? 1048576.0 : unit == "G" ? 1073741824.0
                               : unit == "T" ? 1099511627776.0 : -1;
            if (scale > 0) bytes = amount * scale;
        } catch (const std::exception&) {
        }
        if (!(bytes >= 1048576 && bytes <= 1125899906842624.0))  // 1 MiB .. 1 PiB; also NaN
            fail(value, "'" + owner + "': resources mem must be a size from 1M to 1024T like 512M or 8G, got '" + text + "'");
        return static_cast<std::uint64_t>(bytes);
    }

    // "90", "90s", "1.5m", "2h": seconds, minutes, hours.
    double parse_timeout(const YAML::Node& value, const std::string& owner, const std::string& what = "timeout") const {
        const std::string text = scalar(value, what);
        double seconds = 0;  // not a duration
        try {
            std::size_t used = 0;
            const double amount = std::stod(text, &used);
            const std::string unit = text.substr(used);
            const double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
            if (scale > 0) seconds = amount * scale;
        } catch (const std::exception&) {
        }
        if (!(seconds > 0))  // also NaN
            fail(value, "'" + owner + "': " + what + " must be a positive duration like 30, 30s, 5m or 2h, got '" + text + "'");
        // stod takes "inf" and "1e308h": a timeout that can never fire is a typo, not a wish.
        if (!(seconds <= limits::max_timeout_seconds))
            fail(value, "'" + owner + "': " + what + " must be at most 30 days (720h), got '" + text + "' (leave it out for no limit)");
        return seconds;
    }

    int parse_retries(const YAML::Node& value, const std::string& owner) const {
        const std::string text = scalar(value, "retries");
        std::optional<long long> n;
        bool huge = false;
        try {
            std::size_t used = 0;
            const long long parsed = std::stoll(text, &used);
            if (used == text.size()) n = parsed;
        } catch (const std::out_of_range&) {
            huge = text.find_first_not_of("+0123456789") == std::string::npos;
        } catch (const std::exception&) {
        }
        // Each retry runs the failed slices again: a billion would never end.
        if (huge || (n && *n > limits::max_retries))
            fail(value, "'" + owner + "': retries must be at most " + std::to_string(limits::max_retries) + ", got '" + text + "'");
        if (!n || *n < 0) fail(value, "'" + owner + "': retries must be a whole number >= 0, got '" + text + "'");
        return static_cast<int>(*n);
    }

    void run_limits(const YAML::Node& map, Unit& unit) const {
        UnitOptions& o = unit.options;
        if (map["timeout"]) o.timeout_seconds = parse_timeout(map["timeout"], unit.name);
        if (const auto r = map["resources"]) {
            if (!r.IsMap()) fail(r, "'" + unit.name + "': resources is a mapping: {cpus: 4, mem: 8G, time: 2h}");
            check_keys(r, {"cpus", "mem", "time"}, "resources");
            if (r["cpus"]) {
                const std::string text = scalar(r["cpus"], "cpus");
                long long n = 0;
                try {
                    std::size_t used = 0;
                    n = std::stoll(text, &used);
                    if (used != text.size()) n = 0;
                } catch (const std::exception&) {
                }
                if (n < 1 || n > 4096) fail(r["cpus"], "'" + unit.name + "': resources cpus must be a whole number from 1 to 4096, got '" + text + "'");
                o.resources.cpus = static_cast<int>(n);
            }
            if (r["mem"]) o.resources.mem_bytes = parse_size(r["mem"], unit.name);
            if (r["time"]) o.resources.time_seconds = parse_timeout(r["time"], unit.name, "resources time");
        }
        if (map["retries"]) o.retries = parse_retries(map["retries"], unit.name);
        if (map["filter"]) o.filter = names(map["filter"], "filter");
        if (map["exclude"]) o.exclude = names(map["exclude"], "exclude");
        if (const auto range = map["date_range"]) {
            if (!range.IsMap()) fail(range, "'" + unit.name + "': date_range is a mapping: {min: ..., max: ..., format: \"%Y-%m-%d\"}");
            check_keys(range, {"min", "max", "format"}, "date_range");
            DateRangeSpec spec;
            if (range["min"]) spec.min = scalar(range["min"], "min");
            if (range["max"]) spec.max = scalar(range["max"], "max");
            if (range["format"]) spec.format = scalar(range["format"], "format");
            o.date_range = spec;
        }
        if (map["strict"]) o.strict = boolean(map["strict"], "strict");
        if (map["balance"]) {
            const std::string text = scalar(map["balance"], "balance");
            if (text == "size") o.balance = Balance::size;
            else if (text != "count")
                fail(map["balance"], "'" + unit.name + "': balance must be 'count' (same number of partitions per slice) or "
                                     "'size' (same number of bytes per slice), got '" + text + "'");
        }
        if (map["tags"]) o.tags = names(map["tags"], "tags");
        if (map["namespace"]) o.name_space = scalar(map["namespace"], "namespace");
        if (map["configurator"]) o.configurator = scalar(map["configurator"], "configurator");
        if (map["max_simultaneous_steps"]) {
            const std::string text = scalar(map["max_simultaneous_steps"], "max_simultaneous_steps");
            try {
                std::size_t used = 0;
                o.max_simultaneous_steps = std::stoi(text, &used);
                if (used != text.size() || o.max_simultaneous_steps < 1) throw std::invalid_argument(text);
            } catch (const std::exception&) {
                fail(map["max_simultaneous_steps"], "'" + unit.name + "': max_simultaneous_steps must be a whole number >= 1");
            }
        }
    }

    Fragment unit(const YAML::Node& entry) const {
        if (entry.IsMap() && entry["multipipeline"]) {
            check_keys(entry, {"multipipeline"}, "a multipipeline entry");
            const auto body = entry["multipipeline"];
            if (!body.IsMap()) fail(body, "'multipipeline' must be a mapping with name, slices and nodes");
            check_keys(body, {"name", "slices", "max_simultaneous_steps", "nodes", "timeout", "retries", "resources", "filter", "exclude", "date_range",
                              "strict", "tags", "namespace", "configurator", "balance"},
                       "multipipeline");
            if (!body["name"]) fail(body, "multipipeline without 'name'");
            const std::string name = scalar(body["name"], "name");
            if (!body["slices"] && !body["max_simultaneous_steps"])
                fail(body, "multipipeline '" + name + "' has no 'slices' (a number or 'auto') or 'max_simultaneous_steps'");
            if (body["slices"] && body["max_simultaneous_steps"])
                fail(body, "multipipeline '" + name + "': give 'slices' or 'max_simultaneous_steps', not both");
            const Slices slices = body["slices"] ? parse_slices(body["slices"], name) : Slices::fixed(1);
            if (!body["nodes"] || !body["nodes"].IsSequence())
                fail(body, "multipipeline '" + name + "' needs a list of 'nodes'");
            std::vector<Node> chain;
            for (const auto& inner : body["nodes"]) chain.push_back(node(inner, false, nullptr, nullptr));
            Fragment fragment = multipipeline(name, std::move(chain), slices, {}, line(entry));
            run_limits(body, fragment.units.front());
            return fragment;
        }
        Slices slices;
        bool replicated = false;
        Node n = node(entry, true, &slices, &replicated);
        Fragment fragment = replicated ? multinode(std::move(n), slices) : steppar::node(std::move(n));
        run_limits(entry, fragment.units.front());
        return fragment;
    }

    // Plain scalars become numbers/booleans/null where they look like one; quoted stay strings.
    nlohmann::json to_json(const YAML::Node& node) const {
        switch (node.Type()) {
            case YAML::NodeType::Null:
            case YAML::NodeType::Undefined: return nullptr;
            case YAML::NodeType::Sequence: {
                auto array = nlohmann::json::array();
                for (const auto& item : node) array.push_back(to_json(item));
                return array;
            }
            case YAML::NodeType::Map: {
                auto object = nlohmann::json::object();
                for (const auto& entry : node) object[scalar(entry.first, "key")] = to_json(entry.second);
                return object;
            }
            case YAML::NodeType::Scalar: break;
        }
        const std::string text = scalar(node, "a parameter value");
        if (node.Tag() == "!") return text;  // quoted
        if (text == "true" || text == "True") return true;
        if (text == "false" || text == "False") return false;
        if (text == "null" || text == "~") return nullptr;
        // yaml-cpp's own conversions know YAML's spellings (0x10, .5, 1e3, .inf).
        if (long long i; YAML::convert<long long>::decode(node, i)) return i;
        if (double d; YAML::convert<double>::decode(node, d)) return d;
        return text;
    }

    fs::path file_;
    fs::path intermediate_root_;
};

std::string too_big(std::uintmax_t size) {
    return "the pipeline file is " + bytes_text(size) + " (" + count_text(size) + " bytes), more than the limit of " +
           std::to_string(limits::max_file_bytes >> 20) + " MiB (" + count_text(limits::max_file_bytes) +
           " bytes); keep large data in a dataset or a file a node reads, not in the pipeline file";
}

}  // namespace

PipelineFile parse_pipeline_text(const std::string& text, const fs::path& file, const fs::path& intermediate_root) {
    const fs::path absolute = fs::absolute(file).lexically_normal();
    if (text.size() > limits::max_file_bytes) throw SpecError(absolute.string(), 0, too_big(text.size()));
    try {
        return Parser(absolute, intermediate_root).parse(text);
    } catch (const std::invalid_argument& e) {  // e.g. a dataset declared twice
        throw SpecError(absolute.string(), 0, e.what());
    } catch (const YAML::Exception& e) {
        throw SpecError(absolute.string(), e.mark.line + 1, e.msg);
    }
}

PipelineFile parse_pipeline_file(const fs::path& file, const fs::path& intermediate_root) {
    std::error_code ec;
    const fs::file_status status = fs::status(file, ec);
    if (status.type() == fs::file_type::directory)
        throw SpecError(file.string(), 0, "is a folder, not a pipeline file: give the pipeline's .yml or .json file");
    if (fs::exists(status) && status.type() != fs::file_type::regular)
        throw SpecError(file.string(), 0, "is not a regular file (a device, a FIFO or a socket): give the pipeline's .yml or .json file");
    if (!fs::exists(status))
        throw SpecError(file.string(), 0, ec && ec != std::errc::no_such_file_or_directory ? "pipeline file cannot be read: " + ec.message()
                                                                                             : std::string("pipeline file does not exist"));
    // Checked before reading: parsing can take a few hundred times the file's size in memory.
    if (const auto size = fs::file_size(file, ec); !ec && size > limits::max_file_bytes)
        throw SpecError(file.string(), 0, too_big(size));
    std::string text;
    try {
        text = read_file(file);
    } catch (const StateError& e) {
        throw SpecError(file.string(), 0, e.what());
    }
    return parse_pipeline_text(text, file, intermediate_root);
}

}  // namespace steppar
