#include "spec_guards.hpp"

#include "steppar/error.hpp"
#include "steppar/spec.hpp"
#include "steppar/text.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

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

}  // namespace

void check_json_text(const fs::path& file, const std::string& text) { JsonCheck(file, text).run(); }

void check_yaml_events(const fs::path& file, const std::string& text) {
    std::istringstream stream(text);
    YAML::Parser events(stream);
    YamlCheck check(file);
    while (events.HandleNextDocument(check)) {
    }
}

}  // namespace steppar
