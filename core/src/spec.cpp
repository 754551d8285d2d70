// yaml-cpp is included here and in cluster_export.cpp only.
#include "steppar/spec.hpp"

#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace fs = std::filesystem;

namespace steppar {
namespace {

// The YAML parser and the conversion to JSON recurse: deep nesting must stop before the stack does.
std::string nesting_message(const std::string& through = {}) {
    return "nesting deeper than " + std::to_string(limits::max_nesting) + " levels" + through +
           " (lists and mappings inside each other); a pipeline needs a handful, so flatten it";
}

std::string twice_message(const std::string& key, const char* container, int first, int second) {
    return "key '" + key + "' is given twice in one " + container + " (" +
           (first == second ? "both on line " + std::to_string(first)
                            : "lines " + std::to_string(first) + " and " + std::to_string(second)) +
           "); keep one of them";
}

// One pass over the YAML events before the tree is built, for what the tree hides or makes
// costly: a second document (YAML::Load drops it), a key given twice (the tree keeps both,
// lookups see the first, params the last), nesting that would overflow the stack, and more
// values than a pipeline needs, be they written out (a tree costs ~500 bytes a value) or
// aliases that expand a few hundred bytes into billions (the tree shares them, JSON would not).
class YamlCheck final : public YAML::EventHandler {
public:
    explicit YamlCheck(const fs::path& file) : file_(file) {}

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (++documents_ > 1)
            fail(mark, "a second YAML document starts here ('---'); a pipeline file is one document: "
                       "remove the '---' or merge the two");
    }
    void OnDocumentEnd() override {}
    void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, std::nullopt); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
        leaf(mark, anchor, value);
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        const auto it = anchors_.find(anchor);
        if (it == anchors_.end()) return;  // yaml-cpp refuses unknown anchors itself
        const Anchored& a = it->second;
        // yaml-cpp knows an anchor from its start, so this would be a node that contains itself.
        if (a.open)
            fail(mark, "alias '*" + a.name + "' is used inside the node it names ('&" + a.name +
                           "'), which would make that node endless");
        if (static_cast<int>(open_.size()) + a.height > limits::max_nesting)
            fail(mark, nesting_message(" through alias '*" + a.name + "'"));
        key_or_value(mark, a.scalar);
        count(mark, a.values, &a);
        add(a.values, a.height);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
        start(mark, anchor, false);
    }
    void OnSequenceEnd() override { end(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
        start(mark, anchor, true);
    }
    void OnMapEnd() override { end(); }

private:
    struct Anchored {
        std::string name;
        bool open = true;
        std::size_t values = 1;             // with its aliases expanded
        int height = 0;                     // lists and mappings inside each other, itself included
        std::optional<std::string> scalar;  // so an alias used as a key is compared by its text
    };
    struct Open {
        bool map = false;
        YAML::anchor_t anchor = 0;
        bool expect_key = true;
        std::size_t values = 1;
        int height = 1;
        std::unordered_map<std::string, int> keys;  // key -> line
    };

    static int line(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }
    [[noreturn]] void fail(const YAML::Mark& mark, const std::string& message) const {
        throw SpecError(file_.string(), line(mark), message);
    }

    void name_anchor(YAML::anchor_t anchor, Anchored a) {
        if (!anchor) return;
        a.name = std::move(anchor_name_);
        anchors_[anchor] = std::move(a);
    }

    // In a mapping, nodes alternate key, value; keys that are single values must not repeat.
    void key_or_value(const YAML::Mark& mark, const std::optional<std::string>& key) {
        if (open_.empty() || !open_.back().map) return;
        Open& map = open_.back();
        const bool is_key = map.expect_key;
        map.expect_key = !map.expect_key;
        if (!is_key || !key || !valid_utf8(*key)) return;  // a key that is not UTF-8 is reported later, by itself
        if (const auto [it, fresh] = map.keys.emplace(*key, line(mark)); !fresh)
            fail(mark, twice_message(*key, "mapping", it->second, line(mark)));
    }

    // Every value counts once per place it appears in, so an alias counts all it stands for.
    void count(const YAML::Mark& mark, std::size_t values, const Anchored* alias) {
        if ((values_ += values) <= limits::max_values) return;
        const std::string limit = count_text(limits::max_values);
        if (alias)
            fail(mark, "the file expands to more than " + limit + " values (an alias bomb?): '*" + alias->name +
                           "' here stands for " + count_text(alias->values) + "; use fewer aliases");
        fail(mark, "the file holds more than " + limit + " values (lists, mappings and single values, keys included); "
                   "keep large data in a dataset or a file a node reads, not in the pipeline file");
    }

    void add(std::size_t values, int height) {
        if (open_.empty()) return;
        open_.back().values += values;
        open_.back().height = std::max(open_.back().height, height + 1);
    }

    void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, const std::optional<std::string>& text) {
        key_or_value(mark, text);
        count(mark, 1, nullptr);
        name_anchor(anchor, Anchored{{}, false, 1, 0, text});
        add(1, 0);
    }

    void start(const YAML::Mark& mark, YAML::anchor_t anchor, bool map) {
        key_or_value(mark, std::nullopt);
        if (static_cast<int>(open_.size()) >= limits::max_nesting) fail(mark, nesting_message());
        count(mark, 1, nullptr);
        name_anchor(anchor, Anchored{});
        Open container;
        container.map = map;
        container.anchor = anchor;
        open_.push_back(std::move(container));
    }

    void end() {
        const Open done = std::move(open_.back());
        open_.pop_back();
        if (done.anchor) {
            Anchored& a = anchors_[done.anchor];
            a.open = false;
            a.values = done.values;
            a.height = done.height;
        }
        add(done.values, done.height);
    }

    const fs::path& file_;
    int documents_ = 0;
    std::string anchor_name_;
    std::unordered_map<YAML::anchor_t, Anchored> anchors_;
    std::vector<Open> open_;
    std::size_t values_ = 0;
};

// A char iterator that counts the newlines it passes, so the JSON check's callbacks know their line.
struct LineCountingIterator {
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;

    const char* at = nullptr;
    int* newlines = nullptr;

    reference operator*() const { return *at; }
    LineCountingIterator& operator++() {
        if (*at == '\n') ++*newlines;
        ++at;
        return *this;
    }
    LineCountingIterator operator++(int) {
        LineCountingIterator before = *this;
        ++*this;
        return before;
    }
    bool operator==(const LineCountingIterator& other) const { return at == other.at; }
    bool operator!=(const LineCountingIterator& other) const { return at != other.at; }
};

// JSON's own syntax, plus what the JSON parser would silently take: a key given twice in one
// object (it keeps the last, YAML the first) and nesting too deep for the YAML parser after it.
class JsonCheck final : public nlohmann::json::json_sax_t {
public:
    JsonCheck(const fs::path& file, const std::string& text) : file_(file), text_(text) {}

    void run() {
        const LineCountingIterator first{text_.data(), &newlines_}, last{text_.data() + text_.size(), &newlines_};
        nlohmann::json::sax_parse(first, last, this);
    }

    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override {
        deeper();
        keys_.emplace_back();
        return true;
    }
    bool key(string_t& key) override {  // read up to its closing quote, so the line is the key's
        const int at = newlines_ + 1;
        if (const auto [it, fresh] = keys_.back().emplace(key, at); !fresh && valid_utf8(key))
            throw SpecError(file_.string(), at, twice_message(key, "object", it->second, at));
        return true;
    }
    bool end_object() override {
        keys_.pop_back();
        --depth_;
        return true;
    }
    bool start_array(std::size_t) override {
        deeper();
        return true;
    }
    bool end_array() override {
        --depth_;
        return true;
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::json::exception& e) override {
        const std::size_t end = std::min<std::size_t>(position == 0 ? 0 : position - 1, text_.size());
        const int line = 1 + static_cast<int>(std::count(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
        std::string why = e.what();
        if (const auto at = why.find("syntax error"); at != std::string::npos) why = why.substr(at);
        throw SpecError(file_.string(), line, "malformed JSON: " + why);  // also e.g. a number too large for a double
    }

private:
    void deeper() {  // the brace or bracket was the last character read
        if (++depth_ > limits::max_nesting) throw SpecError(file_.string(), newlines_ + 1, nesting_message());
    }

    const fs::path& file_;
    const std::string& text_;
    int newlines_ = 0;
    int depth_ = 0;
    std::vector<std::unordered_map<std::string, int>> keys_;  // per open object: key -> line
};

class Parser {
public:
    Parser(fs::path file, fs::path intermediate_root)
        : file_(std::move(file)), intermediate_root_(std::move(intermediate_root)) {}

    PipelineFile parse(const std::string& text) {
        if (file_.extension() == ".json") JsonCheck(file_, text).run();
        YAML::Node root;
        try {
            std::istringstream stream(text);
            YAML::Parser events(stream);
            YamlCheck check(file_);
            while (events.HandleNextDocument(check)) {
            }
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

// Read once: every step of a run (forked or started afresh) sees the same limit.
struct EnvLimit {
    int value = 0;
    std::string error;  // the variable is set but is not a limit
};

EnvLimit env_limit(const char* variable, int fallback) {
    const char* text = std::getenv(variable);
    if (!text || !*text) return {fallback, {}};
    const std::string value = text;
    try {
        std::size_t used = 0;
        const long long n = std::stoll(value, &used);
        if (used == value.size() && n >= 1 && n <= INT_MAX) return {static_cast<int>(n), {}};
    } catch (const std::exception&) {
    }
    return {fallback, std::string(variable) + " must be a whole number from 1 to " + std::to_string(INT_MAX) + ", got '" + value + "'"};
}

int checked(const EnvLimit& limit) {
    if (!limit.error.empty()) throw UsageError(limit.error);
    return limit.value;
}

}  // namespace

int max_slices() {
    static const EnvLimit limit = env_limit("STEPPAR_MAX_SLICES", limits::default_max_slices);
    return checked(limit);
}

int max_steps() {
    static const EnvLimit limit = env_limit("STEPPAR_MAX_STEPS", limits::default_max_steps);
    return checked(limit);
}

int auto_slices() {
    // steppar's own name first, then kedro-partitioned's, so a migrated cron line keeps its count.
    auto first_set = [](const char* ours, const char* peers, int fallback) {
        const char* text = std::getenv(ours);
        return env_limit(text && *text ? ours : peers, fallback);
    };
    static const EnvLimit nodes = first_set("STEPPAR_NODES", "MAX_NODES", 1);
    static const EnvLimit workers = first_set("STEPPAR_WORKERS", "MAX_WORKERS", static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    const long long slices = static_cast<long long>(checked(nodes)) * checked(workers);
    return static_cast<int>(std::min<long long>(slices, INT_MAX));
}

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
    if (!fs::is_regular_file(file, ec))
        throw SpecError(file.string(), 0, "pipeline file does not exist");
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
