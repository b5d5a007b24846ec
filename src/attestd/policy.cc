#include "src/attestd/policy.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/check.h"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"

namespace cn::attestd {

// ---------------------------------------------------------------------------------------------
// The parsed form.

enum class Property { kType, kValue, kIssuer, kValueType };
enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };
enum class ActionKind { kPermit, kDeny, kIssue, kAdd, kIssueProperty };

namespace {

// A literal, or a property of the claim bound by an earlier condition of the same rule.
struct Operand {
  std::optional<ClaimValue> literal;
  size_t binding = 0;  // index of the condition whose claim is meant, when !literal
  Property property = Property::kValue;
};

struct PropertyTest {
  Property property;
  Op op;
  Operand operand;
};

struct Condition {
  std::string binding;  // empty when the condition binds no name
  std::vector<PropertyTest> tests;
};

struct Action {
  ActionKind kind = ActionKind::kPermit;
  // issue(claim=c) / add(claim=c): copies the claim of condition `claim_binding`.
  bool copies_claim = false;
  size_t claim_binding = 0;
  Operand type;
  Operand value;
};

struct Rule {
  std::string text;  // "line L: <the rule as written, comments and line breaks removed>"
  std::vector<Condition> conditions;
  Action action;
};

}  // namespace

struct Policy::Rules {
  int minor_version = 0;
  std::vector<Claim> configuration;
  std::vector<Rule> authorization;
  std::vector<Rule> issuance;
};

namespace {

constexpr absl::string_view kServiceIssuer = "AttestationService";
constexpr absl::string_view kPolicyIssuer = "AttestationPolicy";

absl::string_view ValueTypeName(const ClaimValue& value) {
  switch (value.index()) {
    case 0:
      return "Boolean";
    case 1:
      return "Integer";
    default:
      return "String";
  }
}

// ---------------------------------------------------------------------------------------------
// Lexer. The whole text is split into tokens first (it is at most kMaxPolicyBytes), so the
// parser can look ahead freely and a rule's text can be rebuilt from its tokens.

enum class TokenKind {
  kIdentifier,
  kInteger,
  kDecimal,  // digits '.' digits: only the version number
  kString,
  kAssign,  // =
  kEq,      // ==
  kNe,      // !=
  kLt,      // <
  kLe,      // <=
  kGt,      // >
  kGe,      // >=
  kArrow,   // =>
  kAnd,     // &&
  kColon,
  kSemicolon,
  kComma,
  kDot,
  kLeftBracket,
  kRightBracket,
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kEnd,
};

struct Token {
  TokenKind kind;
  absl::string_view raw;  // the bytes of the token in the text
  std::string string_value;
  int64_t int_value = 0;
  int line = 0;
  int column = 0;
  bool space_before = false;  // whitespace or a comment separates it from the previous token
};

absl::Status ErrorAt(int line, int column, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ", column ", column, ": ", what));
}

// The first `max` bytes of text, "..." when cut (never inside a UTF-8 sequence).
std::string Shorten(absl::string_view text, size_t max) {
  if (text.size() <= max) {
    return std::string(text);
  }
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return absl::StrCat(text.substr(0, end), "...");
}

// Text quoted in an error message.
std::string Excerpt(absl::string_view text) { return Shorten(text, 40); }

// Length of the well-formed UTF-8 sequence at text[i], or 0 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    return 1;
  }
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (text.size() - i < length) {
    return 0;
  }
  if (byte(i + 1) < low || byte(i + 1) > high) {
    return 0;
  }
  for (size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return length;
}

class Lexer {
 public:
  explicit Lexer(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    if (absl::StartsWith(text_, "\xEF\xBB\xBF")) {
      pos_ = 3;  // a byte order mark, as some editors write
    }
    while (true) {
      const bool space_before = SkipSpaceAndComments();
      if (!status_.ok()) {
        return status_;
      }
      Token token;
      token.line = line_;
      token.column = column_;
      token.space_before = space_before;
      if (pos_ == text_.size()) {
        token.kind = TokenKind::kEnd;
        tokens.push_back(std::move(token));
        return tokens;
      }
      const size_t start = pos_;
      RETURN_IF_ERROR(Next(token));
      token.raw = text_.substr(start, pos_ - start);
      tokens.push_back(std::move(token));
    }
  }

 private:
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool AtEnd(size_t ahead = 0) const { return pos_ + ahead >= text_.size(); }

  // Moves over one character (a whole UTF-8 sequence), keeping line and column. Sets status_ at
  // a byte that is not UTF-8.
  bool Advance() {
    const size_t length = Utf8SequenceLength(text_, pos_);
    if (length == 0) {
      status_ =
          ErrorAt(line_, column_,
                  absl::StrCat("byte 0x",
                               absl::Hex(static_cast<unsigned char>(text_[pos_]), absl::kZeroPad2),
                               " is not UTF-8 (a policy is UTF-8 text)"));
      return false;
    }
    if (text_[pos_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    pos_ += length;
    return true;
  }

  bool SkipSpaceAndComments() {
    bool skipped = false;
    while (!AtEnd()) {
      const char c = Peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        Advance();
      } else if (c == '/' && Peek(1) == '/') {
        while (!AtEnd() && Peek() != '\n') {
          if (!Advance()) {
            return skipped;
          }
        }
      } else {
        break;
      }
      skipped = true;
    }
    return skipped;
  }

  absl::Status Next(Token& token) {
    const int line = line_, column = column_;
    const char c = Peek();
    if (absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (absl::ascii_isalnum(static_cast<unsigned char>(Peek())) || Peek() == '_') {
        Advance();
      }
      token.kind = TokenKind::kIdentifier;
      return absl::OkStatus();
    }
    if (absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
        (c == '-' && absl::ascii_isdigit(static_cast<unsigned char>(Peek(1))))) {
      return Number(token, line, column);
    }
    if (c == '"') {
      return String(token, line, column);
    }
    const auto two = [&](char second, TokenKind kind) {
      if (Peek(1) == second) {
        token.kind = kind;
        Advance();
        Advance();
        return true;
      }
      return false;
    };
    const auto one = [&](TokenKind kind) {
      token.kind = kind;
      Advance();
      return absl::OkStatus();
    };
    switch (c) {
      case '=':
        if (two('=', TokenKind::kEq) || two('>', TokenKind::kArrow)) return absl::OkStatus();
        return one(TokenKind::kAssign);
      case '!':
        if (two('=', TokenKind::kNe)) return absl::OkStatus();
        break;
      case '<':
        if (two('=', TokenKind::kLe)) return absl::OkStatus();
        return one(TokenKind::kLt);
      case '>':
        if (two('=', TokenKind::kGe)) return absl::OkStatus();
        return one(TokenKind::kGt);
      case '&':
        if (two('&', TokenKind::kAnd)) return absl::OkStatus();
        return ErrorAt(line, column, "'&' is not an operator (conditions are joined with '&&')");
      case '|':
        return ErrorAt(line, column,
                       "'|' is not an operator (there is no '||': write one rule per alternative)");
      case ':':
        return one(TokenKind::kColon);
      case ';':
        return one(TokenKind::kSemicolon);
      case ',':
        return one(TokenKind::kComma);
      case '.':
        return one(TokenKind::kDot);
      case '[':
        return one(TokenKind::kLeftBracket);
      case ']':
        return one(TokenKind::kRightBracket);
      case '(':
        return one(TokenKind::kLeftParen);
      case ')':
        return one(TokenKind::kRightParen);
      case '{':
        return one(TokenKind::kLeftBrace);
      case '}':
        return one(TokenKind::kRightBrace);
      default:
        break;
    }
    const size_t length = Utf8SequenceLength(text_, pos_);
    if (length == 0) {
      Advance();  // sets the UTF-8 error
      return status_;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return ErrorAt(line, column,
                     absl::StrCat("unexpected control character 0x",
                                  absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2)));
    }
    return ErrorAt(line, column,
                   absl::StrCat("unexpected character '", text_.substr(pos_, length), "'"));
  }

  absl::Status Number(Token& token, int line, int column) {
    const size_t start = pos_;
    Advance();  // a digit or '-'
    while (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
      Advance();
    }
    if (Peek() == '.' && absl::ascii_isdigit(static_cast<unsigned char>(Peek(1)))) {
      Advance();
      while (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
        Advance();
      }
      token.kind = TokenKind::kDecimal;
    } else {
      token.kind = TokenKind::kInteger;
      const absl::string_view digits = text_.substr(start, pos_ - start);
      if (!absl::SimpleAtoi(digits, &token.int_value)) {
        return ErrorAt(line, column,
                       absl::StrCat("integer ", Excerpt(digits),
                                    " does not fit in 64 bits (-9223372036854775808 to "
                                    "9223372036854775807)"));
      }
    }
    if (absl::ascii_isalpha(static_cast<unsigned char>(Peek())) || Peek() == '_') {
      return ErrorAt(
          line_, column_,
          absl::StrCat("unexpected '", std::string(1, Peek()), "' after the number ",
                       Excerpt(text_.substr(start, pos_ - start)), " (integers are decimal)"));
    }
    return absl::OkStatus();
  }

  absl::Status String(Token& token, int line, int column) {
    Advance();  // the opening quote
    token.kind = TokenKind::kString;
    while (true) {
      if (AtEnd() || Peek() == '\n') {
        return ErrorAt(line, column, "string not closed on its line (a '\"' is missing)");
      }
      const char c = Peek();
      if (c == '"') {
        Advance();
        return absl::OkStatus();
      }
      if (c == '\\') {
        const int escape_line = line_, escape_column = column_;
        Advance();
        if (Peek() == '"' || Peek() == '\\') {
          token.string_value.push_back(Peek());
          Advance();
          continue;
        }
        return ErrorAt(escape_line, escape_column,
                       "unknown escape in string (only \\\" and \\\\ are escapes)");
      }
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
        return ErrorAt(
            line_, column_,
            absl::StrCat("control character 0x",
                         absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2), " in string"));
      }
      const size_t begin = pos_;
      if (!Advance()) {
        return status_;
      }
      absl::StrAppend(&token.string_value, text_.substr(begin, pos_ - begin));
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
  absl::Status status_;
};

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent over a grammar of fixed depth (policy > section > rule > condition >
// property test), so nothing in the input can make it recurse deeper.

enum class Section { kConfiguration, kAuthorization, kIssuance };

absl::string_view SectionName(Section section) {
  switch (section) {
    case Section::kConfiguration:
      return "configurationrules";
    case Section::kAuthorization:
      return "authorizationrules";
    case Section::kIssuance:
      return "issuancerules";
  }
  return "";
}

std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd:
      return "the end of the policy";
    case TokenKind::kString:
      return absl::StrCat("the string ", Excerpt(token.raw));
    case TokenKind::kInteger:
    case TokenKind::kDecimal:
      return absl::StrCat("the number ", Excerpt(token.raw));
    default:
      return absl::StrCat("'", Excerpt(token.raw), "'");
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::Status Run(Policy::Rules& rules) {
    if (!IsWord("version")) {
      return Unexpected("'version=1.0;' or 'version=1.1;' first");
    }
    Take();
    RETURN_IF_ERROR(Expect(TokenKind::kAssign, "'=' after version"));
    const Token& number = Current();
    if (number.kind != TokenKind::kDecimal && number.kind != TokenKind::kInteger) {
      return Unexpected("a version number (1.0 or 1.1)");
    }
    if (number.raw == "1.0") {
      rules.minor_version = 0;
    } else if (number.raw == "1.1") {
      rules.minor_version = 1;
    } else {
      return ErrorAt(
          number.line, number.column,
          absl::StrCat("version ", Excerpt(number.raw), " is not supported (1.0 and 1.1 are)"));
    }
    Take();
    RETURN_IF_ERROR(Expect(TokenKind::kSemicolon, "';' after the version"));

    if (IsWord("configurationrules")) {
      if (rules.minor_version < 1) {
        return ErrorAt(Current().line, Current().column,
                       "configurationrules needs version 1.1 (this policy says 1.0)");
      }
      std::vector<Rule> configuration;
      RETURN_IF_ERROR(ParseSection(Section::kConfiguration, configuration));
      for (const Rule& rule : configuration) {
        rules.configuration.push_back(
            Claim{std::get<std::string>(*rule.action.type.literal), *rule.action.value.literal});
      }
    }
    RETURN_IF_ERROR(ParseSection(Section::kAuthorization, rules.authorization));
    // MAA's documentation: "Issuance rules section isn't mandatory".
    if (Current().kind != TokenKind::kEnd) {
      if (!IsWord(SectionName(Section::kIssuance))) {
        return Unexpected("'issuancerules' or the end of the policy");
      }
      RETURN_IF_ERROR(ParseSection(Section::kIssuance, rules.issuance));
      if (Current().kind != TokenKind::kEnd) {
        return Unexpected("the end of the policy after issuancerules");
      }
    }
    return absl::OkStatus();
  }

 private:
  const Token& Current() const { return tokens_[pos_]; }
  const Token& Ahead(size_t n) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  const Token& Take() {
    const Token& token = tokens_[pos_];
    if (token.kind != TokenKind::kEnd) {
      ++pos_;
    }
    return token;
  }
  bool Is(TokenKind kind) const { return Current().kind == kind; }
  bool IsWord(absl::string_view word) const {
    return Current().kind == TokenKind::kIdentifier && Current().raw == word;
  }

  absl::Status Unexpected(absl::string_view expected) const {
    return ErrorAt(Current().line, Current().column,
                   absl::StrCat("expected ", expected, ", found ", Describe(Current())));
  }
  absl::Status Expect(TokenKind kind, absl::string_view expected) {
    if (!Is(kind)) {
      return Unexpected(expected);
    }
    Take();
    return absl::OkStatus();
  }

  // NAME '{' rule* '}' ';'
  absl::Status ParseSection(Section section, std::vector<Rule>& rules) {
    const absl::string_view name = SectionName(section);
    if (!IsWord(name)) {
      return Unexpected(absl::StrCat("'", name, "'"));
    }
    Take();
    RETURN_IF_ERROR(Expect(TokenKind::kLeftBrace, absl::StrCat("'{' after ", name)));
    while (!Is(TokenKind::kRightBrace)) {
      if (rules.size() == kMaxRulesPerSection) {
        return ErrorAt(Current().line, Current().column,
                       absl::StrCat(name, " has more than ", kMaxRulesPerSection, " rules"));
      }
      Rule rule;
      RETURN_IF_ERROR(ParseRule(section, rule));
      rules.push_back(std::move(rule));
    }
    Take();
    return Expect(TokenKind::kSemicolon, absl::StrCat("';' after the '}' of ", name));
  }

  // [condition ('&&' condition)*] '=>' action ';'
  absl::Status ParseRule(Section section, Rule& rule) {
    const size_t first = pos_;
    if (!Is(TokenKind::kArrow)) {
      if (section == Section::kConfiguration) {
        return Unexpected("'=>' (configuration rules take no conditions)");
      }
      while (true) {
        if (rule.conditions.size() == kMaxConditionsPerRule) {
          return ErrorAt(
              Current().line, Current().column,
              absl::StrCat("a rule has more than ", kMaxConditionsPerRule, " conditions"));
        }
        Condition condition;
        RETURN_IF_ERROR(ParseCondition(rule, condition));
        rule.conditions.push_back(std::move(condition));
        if (!Is(TokenKind::kAnd)) {
          break;
        }
        Take();
      }
      if (!Is(TokenKind::kArrow)) {
        return Unexpected("'&&' or '=>'");
      }
    }
    Take();  // =>
    RETURN_IF_ERROR(ParseAction(section, rule));
    rule.text = RuleText(first, pos_);
    return Expect(TokenKind::kSemicolon, "';' after the rule");
  }

  // "line L: " and the tokens [first, end) as written, with one space wherever the text had
  // whitespace or a comment.
  std::string RuleText(size_t first, size_t end) const {
    constexpr size_t kMaxRuleText = 300;
    std::string text = absl::StrCat("line ", tokens_[first].line, ": ");
    for (size_t i = first; i < end; ++i) {
      if (i > first && tokens_[i].space_before) {
        text.push_back(' ');
      }
      absl::StrAppend(&text, tokens_[i].raw);
      if (text.size() > kMaxRuleText) {
        break;
      }
    }
    return Shorten(text, kMaxRuleText);
  }

  // [IDENT ':'] '[' test (',' test)* ']'
  absl::Status ParseCondition(const Rule& rule, Condition& condition) {
    if (Is(TokenKind::kIdentifier)) {
      const Token& name = Take();
      if (name.raw == "true" || name.raw == "false") {
        return ErrorAt(name.line, name.column,
                       absl::StrCat("'", name.raw, "' cannot name a claim"));
      }
      for (const Condition& earlier : rule.conditions) {
        if (earlier.binding == name.raw) {
          return ErrorAt(name.line, name.column,
                         absl::StrCat("'", name.raw, "' is already bound in this rule"));
        }
      }
      condition.binding = std::string(name.raw);
      RETURN_IF_ERROR(
          Expect(TokenKind::kColon, absl::StrCat("':' after the claim name '", name.raw, "'")));
    }
    RETURN_IF_ERROR(Expect(TokenKind::kLeftBracket, "a condition '[type==...]' or '=>'"));
    while (true) {
      PropertyTest test;
      RETURN_IF_ERROR(ParseTest(rule, test));
      condition.tests.push_back(std::move(test));
      if (Is(TokenKind::kComma)) {
        Take();
        continue;
      }
      return Expect(TokenKind::kRightBracket, "',' or ']'");
    }
  }

  absl::StatusOr<Property> ParseProperty(absl::string_view expected) {
    if (IsWord("type")) {
      Take();
      return Property::kType;
    }
    if (IsWord("value")) {
      Take();
      return Property::kValue;
    }
    if (IsWord("issuer")) {
      Take();
      return Property::kIssuer;
    }
    if (IsWord("valueType")) {
      Take();
      return Property::kValueType;
    }
    return Unexpected(expected);
  }

  // PROPERTY OP operand
  absl::Status ParseTest(const Rule& rule, PropertyTest& test) {
    ASSIGN_OR_RETURN(test.property,
                     ParseProperty("a claim property (type, value, issuer or valueType)"));
    const Token& op = Current();
    switch (op.kind) {
      case TokenKind::kEq:
        test.op = Op::kEq;
        break;
      case TokenKind::kNe:
        test.op = Op::kNe;
        break;
      case TokenKind::kLt:
        test.op = Op::kLt;
        break;
      case TokenKind::kLe:
        test.op = Op::kLe;
        break;
      case TokenKind::kGt:
        test.op = Op::kGt;
        break;
      case TokenKind::kGe:
        test.op = Op::kGe;
        break;
      case TokenKind::kAssign:
        return ErrorAt(op.line, op.column,
                       "'=' in a condition: compare with '==' (or != < <= > >=)");
      default:
        return Unexpected("a comparison operator (== != < <= > >=)");
    }
    Take();
    const Token& operand_token = Current();
    RETURN_IF_ERROR(ParseOperand(rule.conditions, test.operand));
    const bool ordering = test.op != Op::kEq && test.op != Op::kNe;
    if (test.property != Property::kValue) {
      if (ordering) {
        return ErrorAt(op.line, op.column,
                       "only value compares with < <= > >= (type, issuer and valueType are "
                       "strings: == or !=)");
      }
      if (test.operand.literal && !std::holds_alternative<std::string>(*test.operand.literal)) {
        return ErrorAt(operand_token.line, operand_token.column,
                       "type, issuer and valueType compare with a string");
      }
      if (test.property == Property::kValueType && test.operand.literal) {
        const std::string& name = std::get<std::string>(*test.operand.literal);
        if (name != "String" && name != "Integer" && name != "Boolean") {
          return ErrorAt(operand_token.line, operand_token.column,
                         "valueType is one of \"String\", \"Integer\", \"Boolean\"");
        }
      }
    } else if (ordering && test.operand.literal &&
               !std::holds_alternative<int64_t>(*test.operand.literal)) {
      return ErrorAt(op.line, op.column,
                     absl::StrCat("operator ", op.raw,
                                  " compares integers; strings and booleans take == or !="));
    }
    return absl::OkStatus();
  }

  // STRING | INTEGER | true | false | NAME '.' PROPERTY (NAME bound by an earlier condition)
  absl::Status ParseOperand(const std::vector<Condition>& bound, Operand& operand) {
    const Token& token = Current();
    switch (token.kind) {
      case TokenKind::kString:
        operand.literal = token.string_value;
        Take();
        return absl::OkStatus();
      case TokenKind::kInteger:
        operand.literal = token.int_value;
        Take();
        return absl::OkStatus();
      case TokenKind::kIdentifier:
        break;
      default:
        return Unexpected("a value (a string, an integer, true, false or c.value)");
    }
    if (token.raw == "true" || token.raw == "false") {
      operand.literal = token.raw == "true";
      Take();
      return absl::OkStatus();
    }
    if (Ahead(1).kind != TokenKind::kDot) {
      return Unexpected("a value (a string, an integer, true, false or c.value)");
    }
    size_t index = 0;
    while (index < bound.size() && bound[index].binding != token.raw) {
      ++index;
    }
    if (index == bound.size()) {
      return ErrorAt(token.line, token.column,
                     absl::StrCat("'", Excerpt(token.raw),
                                  "' is not bound by an earlier condition of this rule"));
    }
    Take();
    Take();  // the dot
    ASSIGN_OR_RETURN(
        operand.property,
        ParseProperty(absl::StrCat("type, value, issuer or valueType after '", token.raw, ".'")));
    operand.binding = index;
    return absl::OkStatus();
  }

  // permit() | deny() | issue(...) | add(...) | issueproperty(...)
  absl::Status ParseAction(Section section, Rule& rule) {
    const Token& name = Current();
    Action& action = rule.action;
    if (IsWord("permit")) {
      action.kind = ActionKind::kPermit;
    } else if (IsWord("deny")) {
      action.kind = ActionKind::kDeny;
    } else if (IsWord("issue")) {
      action.kind = ActionKind::kIssue;
    } else if (IsWord("add")) {
      action.kind = ActionKind::kAdd;
    } else if (IsWord("issueproperty")) {
      action.kind = ActionKind::kIssueProperty;
    } else {
      return Unexpected("an action (permit, deny, issue, add or issueproperty)");
    }
    const bool allowed =
        (section == Section::kAuthorization &&
         (action.kind == ActionKind::kPermit || action.kind == ActionKind::kDeny ||
          action.kind == ActionKind::kAdd)) ||
        (section == Section::kIssuance &&
         (action.kind == ActionKind::kIssue || action.kind == ActionKind::kAdd)) ||
        (section == Section::kConfiguration && action.kind == ActionKind::kIssueProperty);
    if (!allowed) {
      return ErrorAt(name.line, name.column,
                     absl::StrCat(name.raw, "() is not allowed in ", SectionName(section),
                                  " (authorizationrules: permit, deny, add; issuancerules: "
                                  "issue, add; configurationrules: issueproperty)"));
    }
    Take();
    RETURN_IF_ERROR(Expect(TokenKind::kLeftParen, absl::StrCat("'(' after ", name.raw)));
    if (action.kind == ActionKind::kPermit || action.kind == ActionKind::kDeny) {
      return Expect(TokenKind::kRightParen, absl::StrCat("')': ", name.raw, "() takes nothing"));
    }
    return ParseClaimArguments(name, rule);
  }

  // 'claim' '=' NAME ')' | ('type' '=' operand | 'value' '=' operand) (',' ...)* ')'
  absl::Status ParseClaimArguments(const Token& action_name, Rule& rule) {
    Action& action = rule.action;
    if (IsWord("claim")) {
      if (action.kind == ActionKind::kIssueProperty) {
        return Unexpected("type= or value= (issueproperty sets a property)");
      }
      Take();
      RETURN_IF_ERROR(Expect(TokenKind::kAssign, "'=' after claim"));
      const Token& claim = Current();
      if (claim.kind != TokenKind::kIdentifier) {
        return Unexpected("the name of a claim bound by a condition");
      }
      size_t index = 0;
      while (index < rule.conditions.size() && rule.conditions[index].binding != claim.raw) {
        ++index;
      }
      if (index == rule.conditions.size()) {
        return ErrorAt(
            claim.line, claim.column,
            absl::StrCat("'", Excerpt(claim.raw), "' is not bound by a condition of this rule"));
      }
      Take();
      action.copies_claim = true;
      action.claim_binding = index;
      return Expect(TokenKind::kRightParen, "')'");
    }
    bool has_type = false, has_value = false;
    while (true) {
      const Token& argument = Current();
      const bool is_type = IsWord("type");
      if (!is_type && !IsWord("value")) {
        return Unexpected(action.kind == ActionKind::kIssueProperty ? "type= or value="
                                                                    : "claim=, type= or value=");
      }
      if ((is_type && has_type) || (!is_type && has_value)) {
        return ErrorAt(argument.line, argument.column,
                       absl::StrCat(argument.raw, "= is given twice"));
      }
      Take();
      RETURN_IF_ERROR(Expect(TokenKind::kAssign, absl::StrCat("'=' after ", argument.raw)));
      const Token& operand_token = Current();
      Operand& operand = is_type ? action.type : action.value;
      RETURN_IF_ERROR(ParseOperand(rule.conditions, operand));
      if (is_type) {
        has_type = true;
        if (operand.literal) {
          if (!std::holds_alternative<std::string>(*operand.literal)) {
            return ErrorAt(operand_token.line, operand_token.column, "a claim type is a string");
          }
          const std::string& type = std::get<std::string>(*operand.literal);
          if (type.empty()) {
            return ErrorAt(operand_token.line, operand_token.column,
                           "a claim type cannot be empty");
          }
          if (action.kind != ActionKind::kIssueProperty && IsReservedClaimType(type)) {
            return ErrorAt(operand_token.line, operand_token.column,
                           absl::StrCat("claim type \"", Excerpt(type),
                                        "\" is reserved: the service issues it itself"));
          }
        }
      } else {
        has_value = true;
      }
      if (Is(TokenKind::kComma)) {
        Take();
        continue;
      }
      if (!Is(TokenKind::kRightParen)) {
        return Unexpected("',' or ')'");
      }
      if (!has_type || !has_value) {
        return Unexpected(absl::StrCat(has_type ? "value=" : "type=", " before ')': ",
                                       action_name.raw, "() needs a type and a value"));
      }
      Take();
      return absl::OkStatus();
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Evaluation.

// A claim of the set being evaluated: one of the caller's (never copied) or one the policy made.
struct HeldClaim {
  const Claim* claim;
  absl::string_view issuer;
};

// A claim's identity for "already in the set": type, value with its type, issuer.
std::string ClaimKey(absl::string_view type, const ClaimValue& value, absl::string_view issuer) {
  std::string key = absl::StrCat(type.size(), ":", type, "|", issuer, "|", value.index(), ":");
  std::visit(
      [&](const auto& v) {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
          key.append(v);
        } else {
          absl::StrAppend(&key, static_cast<int64_t>(v));
        }
      },
      value);
  return key;
}

// A property of a claim or a literal, viewed without copying: the matcher compares these
// hundreds of thousands of times on a hostile policy.
struct ValueView {
  size_t kind = 0;  // ClaimValue's index: 0 bool, 1 integer, 2 string
  bool boolean = false;
  int64_t integer = 0;
  absl::string_view string;
};

ValueView ViewOf(const ClaimValue& value) {
  ValueView view;
  view.kind = value.index();
  if (const bool* b = std::get_if<bool>(&value)) {
    view.boolean = *b;
  } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
    view.integer = *i;
  } else {
    view.string = std::get<std::string>(value);
  }
  return view;
}

ValueView StringView(absl::string_view string) {
  ValueView view;
  view.kind = 2;
  view.string = string;
  return view;
}

ValueView PropertyOf(const HeldClaim& claim, Property property) {
  switch (property) {
    case Property::kType:
      return StringView(claim.claim->type);
    case Property::kValue:
      return ViewOf(claim.claim->value);
    case Property::kIssuer:
      return StringView(claim.issuer);
    case Property::kValueType:
      return StringView(ValueTypeName(claim.claim->value));
  }
  return ViewOf(claim.claim->value);
}

ClaimValue Materialize(const ValueView& view) {
  switch (view.kind) {
    case 0:
      return view.boolean;
    case 1:
      return view.integer;
    default:
      return std::string(view.string);
  }
}

bool Compare(const ValueView& claim, Op op, const ValueView& operand) {
  if (claim.kind != operand.kind) {
    return false;  // strict typing: no operator relates values of different types
  }
  if (op == Op::kEq || op == Op::kNe) {
    const bool equal = claim.boolean == operand.boolean && claim.integer == operand.integer &&
                       claim.string == operand.string;
    return (op == Op::kEq) == equal;
  }
  if (claim.kind != 1) {
    return false;  // ordering a string or boolean (reachable through c.value only)
  }
  switch (op) {
    case Op::kLt:
      return claim.integer < operand.integer;
    case Op::kLe:
      return claim.integer <= operand.integer;
    case Op::kGt:
      return claim.integer > operand.integer;
    case Op::kGe:
      return claim.integer >= operand.integer;
    default:
      return false;
  }
}

class Evaluator {
 public:
  // `incoming` must outlive the Evaluator. Its claims are taken as they are (the service builds
  // them; only the policy's own claims are kept unique).
  explicit Evaluator(const std::vector<Claim>& incoming) {
    if (incoming.size() > kMaxClaims) {
      stopped_ = true;
      return;
    }
    claims_.reserve(incoming.size());
    for (const Claim& claim : incoming) {
      claims_.push_back(HeldClaim{&claim, kServiceIssuer});
    }
  }

  PolicyDecision Run(const Policy::Rules& rules) {
    PolicyDecision decision;
    if (stopped_) {
      return Stopped(decision, "the quote's own claims");
    }
    bool permitted = false;
    for (const Rule& rule : rules.authorization) {
      bool matched = false;
      ApplyRule(rule, matched);
      if (stopped_) {
        return Stopped(decision, rule.text);
      }
      if (matched && rule.action.kind == ActionKind::kDeny) {
        decision.reason = rule.text;
        return decision;
      }
      permitted = permitted || (matched && rule.action.kind == ActionKind::kPermit);
    }
    if (!permitted) {
      decision.reason = "no permit rule matched";
      return decision;
    }
    for (const Rule& rule : rules.issuance) {
      bool matched = false;
      ApplyRule(rule, matched);
      if (stopped_) {
        return Stopped(decision, rule.text);
      }
    }
    decision.permitted = true;
    decision.issued = std::move(issued_);
    return decision;
  }

 private:
  PolicyDecision& Stopped(PolicyDecision& decision, absl::string_view where) {
    decision = PolicyDecision{};
    decision.reason = absl::StrCat("policy evaluation stopped at its limits (", kMaxEvaluationSteps,
                                   " comparisons, ", kMaxClaims, " claims) in ", where);
    return decision;
  }

  // Runs the rule's action for every tuple of claims satisfying its conditions; the claims it
  // adds join the set after the rule, for the rules that follow.
  void ApplyRule(const Rule& rule, bool& matched) {
    pending_.clear();
    tuple_.assign(rule.conditions.size(), 0);
    limit_ = claims_.size();  // the claims this rule sees
    Match(rule, 0, matched);
    for (Claim& claim : pending_) {
      const std::string key = ClaimKey(claim.type, claim.value, kPolicyIssuer);
      if (rule.action.kind == ActionKind::kIssue && issued_keys_.insert(key).second) {
        issued_.push_back(claim);
      }
      if (!keys_.insert(key).second) {
        continue;  // already in the set
      }
      if (claims_.size() == kMaxClaims) {
        stopped_ = true;
        return;
      }
      added_.push_back(std::move(claim));
      claims_.push_back(HeldClaim{&added_.back(), kPolicyIssuer});
    }
  }

  // Returns false to stop the enumeration.
  bool Match(const Rule& rule, size_t index, bool& matched) {
    if (index == rule.conditions.size()) {
      matched = true;
      return Act(rule);
    }
    const Condition& condition = rule.conditions[index];
    for (size_t candidate = 0; candidate < limit_; ++candidate) {
      if (!Satisfies(condition, claims_[candidate])) {
        if (stopped_) {
          return false;
        }
        continue;
      }
      tuple_[index] = candidate;
      if (!Match(rule, index + 1, matched)) {
        return false;
      }
    }
    return true;
  }

  bool Satisfies(const Condition& condition, const HeldClaim& claim) {
    for (const PropertyTest& test : condition.tests) {
      if (++steps_ > kMaxEvaluationSteps) {
        stopped_ = true;
        return false;
      }
      if (!Compare(PropertyOf(claim, test.property), test.op, Resolve(test.operand))) {
        return false;
      }
    }
    return true;
  }

  ValueView Resolve(const Operand& operand) const {
    if (operand.literal) {
      return ViewOf(*operand.literal);
    }
    return PropertyOf(claims_[tuple_[operand.binding]], operand.property);
  }

  // Returns false to stop the enumeration (permit and deny need one match).
  bool Act(const Rule& rule) {
    const Action& action = rule.action;
    if (action.kind == ActionKind::kPermit || action.kind == ActionKind::kDeny ||
        action.kind == ActionKind::kIssueProperty) {
      return false;
    }
    if (++steps_ > kMaxEvaluationSteps) {
      stopped_ = true;
      return false;
    }
    Claim claim;
    if (action.copies_claim) {
      claim = *claims_[tuple_[action.claim_binding]].claim;
    } else {
      const ValueView type = Resolve(action.type);
      if (type.kind != 2) {
        return true;  // type=c.value with a value that is not a string: no claim
      }
      claim.type = std::string(type.string);
      claim.value = Materialize(Resolve(action.value));
    }
    if (claim.type.empty() || IsReservedClaimType(claim.type)) {
      return true;  // the service's own claims stand as the quote gave them
    }
    pending_.push_back(std::move(claim));
    if (pending_.size() > kMaxClaims) {
      stopped_ = true;
      return false;
    }
    return true;
  }

  std::vector<HeldClaim> claims_;
  std::deque<Claim> added_;                // the policy's claims (stable addresses)
  absl::flat_hash_set<std::string> keys_;  // of added_
  std::vector<Claim> issued_;
  absl::flat_hash_set<std::string> issued_keys_;
  std::vector<Claim> pending_;
  std::vector<size_t> tuple_;
  size_t limit_ = 0;
  size_t steps_ = 0;
  bool stopped_ = false;
};

constexpr absl::string_view kDefaultPolicyText =
    "version=1.0;\n"
    "authorizationrules\n"
    "{\n"
    "    => permit();\n"
    "};\n"
    "issuancerules\n"
    "{\n"
    "};\n";

}  // namespace

bool IsReservedClaimType(absl::string_view type) {
  for (absl::string_view registered : {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "nonce"}) {
    if (type == registered) {
      return true;
    }
  }
  return absl::StartsWith(type, "x-ms-") || absl::StartsWith(type, "attester_");
}

absl::StatusOr<Policy> Policy::Parse(absl::string_view text) {
  if (text.size() > kMaxPolicyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("line 1, column 1: the policy is ", text.size(),
                                                   " bytes, more than the limit of ",
                                                   kMaxPolicyBytes));
  }
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Lexer(text).Run());
  auto rules = std::make_shared<Rules>();
  RETURN_IF_ERROR(Parser(std::move(tokens)).Run(*rules));
  Policy policy;
  policy.text_ = std::string(text);
  policy.rules_ = std::move(rules);
  return policy;
}

const Policy& Policy::Default() {
  static const Policy* const policy = [] {
    absl::StatusOr<Policy> parsed = Parse(kDefaultPolicyText);
    CN_CHECK(parsed.ok());
    return new Policy(*std::move(parsed));
  }();
  return *policy;
}

PolicyDecision Policy::Evaluate(const std::vector<Claim>& incoming) const {
  if (rules_ == nullptr) {
    PolicyDecision refused;
    refused.reason = "no policy (a default-constructed or moved-from Policy)";
    return refused;
  }
  return Evaluator(incoming).Run(*rules_);
}

const std::vector<Claim>& Policy::configuration() const {
  static const auto* const kNone = new std::vector<Claim>();
  return rules_ == nullptr ? *kNone : rules_->configuration;
}

std::string PolicyHash(absl::string_view policy_text) {
  const std::string encoded = absl::WebSafeBase64Escape(policy_text);
  const dcap::Sha256Digest digest = dcap::Sha256(encoded);
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace cn::attestd
