"""Writes corpus.json: line-protocol bodies, each covering one rule or edge of the
grammar. Their verdicts come from the real InfluxDB (record_verdicts.py), never from
this file. Run: python3 Tests/lineprotocol/make_corpus.py"""

import base64
import json
import os

cases = []


def case(name, body, precision="ns"):
    entry = {"name": name, "precision": precision}
    if isinstance(body, bytes):
        entry["body_base64"] = base64.b64encode(body).decode()
    else:
        entry["body"] = body
    assert name not in {c["name"] for c in cases}, name
    cases.append(entry)


L = "m,device=d1 "  # a line's key, up to its fields
T = " 1700000000000000000"

# Lines, blank lines, comments, line endings
case("one field", L + "f=1")
case("one field with time", L + "f=1" + T)
case("trailing newline", L + "f=1" + T + "\n")
case("two lines", L + "f=1 1\n" + L + "f=2 2\n")
case("blank lines between", "\n\n" + L + "f=1 1\n\n\n" + L + "f=2 2\n\n")
case("comment line", "# a comment\n" + L + "f=1" + T)
case("comment after spaces", "   # indented comment\n" + L + "f=1" + T)
case("comment after tab", "\t# tab comment\n" + L + "f=1" + T)
case("only comments", "# one\n# two\n")
case("empty body", "")
case("only newlines", "\n\n\n")
case("only spaces", "   \n \t \n")
case("hash inside measurement", "m#x,device=d1 f=1" + T)
case("hash after fields", L + "f=1 # not a comment")
case("crlf without time", L + "f=1\r\n")
case("crlf with time", L + "f=1" + T + "\r\n")
case("crlf string field", L + 'f="a"\r\n')
case("cr only", L + "f=1\r")
case("leading spaces", "   " + L + "f=1" + T)
case("leading tab", "\t" + L + "f=1" + T)
case("leading nul", b"\x00m,device=d1 f=1" + T.encode())
case("many lines", "".join(f"{L}f={i} {i}\n" for i in range(50)))

# Measurements
case("missing measurement", ",device=d1 f=1")
case("measurement only", "m")
case("measurement and space", "m ")
case("measurement without tags", "m f=1" + T)
case("measurement escaped space", "m\\ x,device=d1 f=1" + T)
case("measurement escaped comma", "m\\,x,device=d1 f=1" + T)
case("measurement escaped equals", "m\\=x,device=d1 f=1" + T)
case("measurement unescaped equals", "m=x,device=d1 f=1" + T)
case("measurement escaped quote", 'm\\"x,device=d1 f=1' + T)
case("measurement unescaped quote", 'm"x,device=d1 f=1' + T)
case("measurement escaped backslash", "m\\\\x,device=d1 f=1" + T)
case("measurement backslash letter", "m\\x,device=d1 f=1" + T)
case("measurement trailing backslash", "m\\ ,device=d1 f=1" + T)
case("measurement unicode", "température,device=d1 f=1" + T)
case("measurement emoji", "m🚀,device=d1 f=1" + T)
case("measurement dots", "a.b.c,device=d1 f=1" + T)
case("measurement then comma space", "m, f=1" + T)
case("measurement then two commas", "m,,device=d1 f=1" + T)
case("measurement long", "m" * 300 + ",device=d1 f=1" + T)
case("measurement invalid utf8", b"m\xff,device=d1 f=1" + T.encode())

# Tags
case("two tags", "m,device=d1,line=3 f=1" + T)
case("tags unsorted", "m,line=3,device=d1 f=1" + T)
case("duplicate tag same value", "m,device=d1,device=d1 f=1" + T)
case("duplicate device tag", "m,device=a,device=b f=1" + T)
case("duplicate other tag", "m,device=d1,x=1,x=2 f=1" + T)
case("duplicate tag unsorted", "m,x=1,device=d1,x=2 f=1" + T)
case("empty tag value", "m,device=d1,x= f=1" + T)
case("empty tag key", "m,device=d1,=x f=1" + T)
case("tag without equals", "m,device=d1,x f=1" + T)
case("tag trailing comma", "m,device=d1, f=1" + T)
case("tag unescaped equals in value", "m,device=d1,x=a=b f=1" + T)
case("tag escaped equals in value", "m,device=d1,x=a\\=b f=1" + T)
case("tag escaped comma in value", "m,device=d1,x=a\\,b f=1" + T)
case("tag escaped space in value", "m,device=d1,x=a\\ b f=1" + T)
case("tag escaped space in key", "m,device=d1,x\\ y=1 f=1" + T)
case("tag escaped equals in key", "m,device=d1,x\\=y=1 f=1" + T)
case("tag escaped comma in key", "m,device=d1,x\\,y=1 f=1" + T)
case("tag quote in value", 'm,device=d1,x="a" f=1' + T)
case("tag escaped quote in value", 'm,device=d1,x=a\\"b f=1' + T)
case("tag backslash in value", "m,device=d1,x=a\\\\b f=1" + T)
case("tag backslash letter in value", "m,device=d1,x=a\\b f=1" + T)
case("tag value unicode", "m,device=d1,x=größe f=1" + T)
case("tag value with hash", "m,device=d1,x=#1 f=1" + T)
case("tag value tab", "m,device=d1,x=a\tb f=1" + T)
case("tag then tab before fields", "m,device=d1\tf=1" + T)
case("tag named time", "m,device=d1,time=1 f=1" + T)
case("tag key unicode", "m,device=d1,größe=1 f=1" + T)
case("device tag escaped space", "m,device=d\\ 1 f=1" + T)
case("device tag escaped comma", "m,device=d\\,1 f=1" + T)
case("device tag key escaped", "m,dev\\ice=d1 f=1" + T)
case("device tag missing", "m,line=3 f=1" + T)
case("device tag missing no tags", "m f=1" + T)
case("device tag uppercase key", "m,Device=d1 f=1" + T)
case("device tag in fields", 'm device="d1",f=1' + T)
case("many tags", "m,device=d1," + ",".join(f"t{i:03}={i}" for i in range(100)) + " f=1" + T)
case("tag value long", "m,device=d1,x=" + "v" * 1000 + " f=1" + T)

# Field separators and keys
case("two fields", L + "f=1,g=2" + T)
case("many fields", L + ",".join(f"f{i}={i}" for i in range(100)) + T)
case("missing fields", "m,device=d1")
case("missing fields after space", "m,device=d1 " + T)
case("field without value", L + "f=" + T)
case("field without equals", L + "f" + T)
case("field empty key", L + "=1" + T)
case("field trailing comma", L + "f=1," + T)
case("field double comma", L + "f=1,,g=2" + T)
case("field leading comma", L + ",f=1" + T)
case("field space after comma", L + "f=1, g=2" + T)
case("field space before comma", L + "f=1 ,g=2" + T)
case("field space before equals", L + "f =1" + T)
case("field space after equals", L + "f= 1" + T)
case("field two spaces before", "m,device=d1  f=1" + T)
case("field key escaped space", L + "f\\ g=1" + T)
case("field key escaped comma", L + "f\\,g=1" + T)
case("field key escaped equals", L + "f\\=g=1" + T)
case("field key escaped quote", L + 'f\\"g=1' + T)
case("field key quote", L + '"f"=1' + T)
case("field key backslash letter", L + "f\\g=1" + T)
case("field key escaped backslash", L + "f\\\\g=1" + T)
case("field key unicode", L + "température=1" + T)
case("field key hash", L + "#f=1" + T)
case("field key dots", L + "a.b=1" + T)
case("field named time", L + "time=1" + T)
case("field named time and another", L + "time=1,f=2" + T)
case("duplicate field same type", L + "f=1,f=2" + T)
case("duplicate field other type", L + 'f=1,f="a"' + T)
case("duplicate field three", L + "f=1,g=2,f=3" + T)
case("type conflict across lines", L + "f=1 1\n" + L + "f=1i 2\n")
case("type conflict across lines string", L + "f=1 1\n" + L + 'f="a" 2\n')
case("field key long", L + "k" * 300 + "=1" + T)

# Floats
for name, value in [
    ("float integer", "1"), ("float zero", "0"), ("float negative zero", "-0"), ("float decimal", "1.5"),
    ("float negative", "-1.5"), ("float leading dot", ".5"), ("float trailing dot", "5."),
    ("float negative leading dot", "-.5"), ("float exponent", "1e3"), ("float upper exponent", "1E3"),
    ("float exponent plus", "1e+3"), ("float exponent minus", "1e-3"), ("float negative exponent minus", "-1e-3"),
    ("float decimal exponent", "1.5e3"), ("float leading zeros", "00012"), ("float plus sign", "+5"),
    ("float plus sign decimal", "+1.5"), ("float exponent missing digits", "1e"), ("float exponent only", "e5"),
    ("float two dots", "1.2.3"), ("float two minus", "--1"), ("float minus inside", "1-2"), ("float hex", "0x10"),
    ("float underscore", "1_000"), ("float NaN", "NaN"), ("float nan", "nan"), ("float Inf", "Inf"),
    ("float inf", "inf"), ("float minus Inf", "-Inf"), ("float overflow", "1e309"), ("float max", "1.7976931348623157e308"),
    ("float underflow", "1e-400"), ("float subnormal", "5e-324"), ("float many digits", "3.14159265358979323846264338327950288"),
    ("float long integer", "123456789012345678901234567890"), ("float dot only", "."), ("float minus only", "-"),
    ("float minus dot", "-."), ("float dot exponent", ".e5"), ("float trailing letter", "1x"),
    ("float exponent exponent", "1e5e5"), ("float exponent decimal", "1e5.5"), ("float comma decimal", "1,5"),
    ("float trailing space time", "1  " + T.strip()), ("float with tab", "1\t2"),
]:
    case(name, L + "f=" + value + T)

# Integers
for name, value in [
    ("integer", "1i"), ("integer zero", "0i"), ("integer negative", "-1i"), ("integer negative zero", "-0i"),
    ("integer max", "9223372036854775807i"), ("integer min", "-9223372036854775808i"),
    ("integer above max", "9223372036854775808i"), ("integer below min", "-9223372036854775809i"),
    ("integer far above max", "99999999999999999999999i"), ("integer decimal", "1.5i"), ("integer decimal 4.2", "4.2i"),
    ("integer exponent", "1e3i"), ("integer alone i", "i"), ("integer minus i", "-i"), ("integer plus", "+5i"),
    ("integer double i", "5ii"), ("integer i then digit", "5i5"), ("integer leading zeros", "007i"),
    ("integer upper I", "1I"), ("integer dot i", ".i"), ("integer trailing dot", "5.i"),
    ("integer iu", "5iu"), ("integer space suffix", "5 i"),
]:
    case(name, L + "f=" + value + T)

# Unsigned integers
for name, value in [
    ("unsigned", "1u"), ("unsigned zero", "0u"), ("unsigned negative", "-1u"), ("unsigned max int64", "9223372036854775807u"),
    ("unsigned above int64", "9223372036854775808u"), ("unsigned max", "18446744073709551615u"),
    ("unsigned above max", "18446744073709551616u"), ("unsigned decimal", "1.5u"), ("unsigned alone", "u"),
    ("unsigned ui", "5ui"),
]:
    case(name, L + "f=" + value + T)

# Booleans
for name, value in [
    ("bool t", "t"), ("bool T", "T"), ("bool true", "true"), ("bool True", "True"), ("bool TRUE", "TRUE"),
    ("bool f", "f"), ("bool F", "F"), ("bool false", "false"), ("bool False", "False"), ("bool FALSE", "FALSE"),
    ("bool tRUE", "tRUE"), ("bool fAlse", "fAlse"), ("bool tr", "tr"), ("bool truee", "truee"), ("bool yes", "yes"),
    ("bool t1", "t1"), ("bool falsey", "falsy"), ("bool quoted", '"true"'), ("bool single quoted", "'t'"),
]:
    case(name, L + "f=" + value + T)

# Strings
for name, value in [
    ("string", '"abc"'), ("string empty", '""'), ("string space", '"a b"'), ("string comma", '"a,b"'),
    ("string equals", '"a=b"'), ("string escaped quote", '"a\\"b"'), ("string escaped backslash", '"a\\\\b"'),
    ("string backslash n", '"a\\nb"'), ("string backslash letter", '"a\\qb"'), ("string trailing backslash pair", '"ab\\\\"'),
    ("string raw newline", '"a\nb"'), ("string raw crlf", '"a\r\nb"'), ("string raw tab", '"a\tb"'),
    ("string unicode", '"größe 🚀"'), ("string unterminated", '"abc'), ("string unterminated escaped", '"abc\\"'),
    ("string junk after", '"abc"x'), ("string quote inside", '"a"b"'), ("string single quotes", "'abc'"),
    ("string then field", '"a",g=1'), ("string with hash", '"#x"'), ("string looks like number", '"1"'),
    ("string two quoted", '"a""b"'), ("string long", '"' + "x" * 70000 + '"'), ("string 64 KiB", '"' + "x" * 65536 + '"'),
    ("string brace", '"{\\"a\\":1}"'), ("string multiline with time", '"line1\nline2"'),
]:
    case(name, L + "f=" + value + T)
case("string invalid utf8", L.encode() + b'f="a\xffb"' + T.encode())
case("string nul", L.encode() + b'f="a\x00b"' + T.encode())
case("string newline then next line", L + 'f="a\nb"' + T + "\n" + L + "g=2" + T)
case("string newline unterminated then next line", L + 'f="a\n' + L + "g=2" + T)

# Whitespace and timestamps
case("time trailing space", L + "f=1" + T + " ")
case("time trailing spaces", L + "f=1" + T + "   ")
case("time trailing tab", L + "f=1" + T + "\t")
case("no time trailing space", L + "f=1 ")
case("no time trailing tab", L + "f=1\t")
case("time two spaces before", L + "f=1  1700000000000000000")
case("time tab before", L + "f=1\t1700000000000000000")
case("time two timestamps", L + "f=1 1 2")
case("time text after", L + "f=1" + T + " x")
for name, value in [
    ("time zero", "0"), ("time negative", "-1"), ("time plus", "+1"), ("time letters", "12a"), ("time decimal", "1.5"),
    ("time exponent", "1e9"), ("time minus only", "-"), ("time double minus", "--1"), ("time max int64", "9223372036854775807"),
    ("time min int64", "-9223372036854775808"), ("time above int64", "9223372036854775808"),
    ("time huge", "99999999999999999999"), ("time year 2262", "9223372036854775806"),
    ("time before 1677", "-9223372036854775806"), ("time leading zeros", "0001700000000000000000"),
]:
    case(name, L + "f=1 " + value)
for precision, value in [
    ("ns", "1700000000123456789"), ("us", "1700000000123456"), ("ms", "1700000000123"), ("s", "1700000000"),
    ("s", "9223372036854775807"), ("ms", "9223372036854775807"), ("us", "-9223372036854775807"),
    ("s", "-1"), ("ms", "-1"), ("us", "1"), ("s", "0"), ("s", "99999999999"),
]:
    case(f"precision {precision} {value}", L + "f=1 " + value, precision)
case("precision s no time", L + "f=1", "s")

# Escapes at the edges and odd bytes
case("backslash at end of line", L + "f=1\\")
case("backslash before newline", L + "f=1\\\n" + L + "g=2")
case("backslash at end of measurement", "m\\")
case("backslash space at end", "m,device=d1\\ f=1")
case("escaped newline in tag value", "m,device=d1,x=a\\\nb f=1")
case("nul in tag value", b"m,device=d1,x=a\x00b f=1" + T.encode())
case("nul in field key", b"m,device=d1 f\x00g=1" + T.encode())
case("delete character in key", b"m\x7f,device=d1 f=1" + T.encode())
case("form feed in measurement", b"m\x0c,device=d1 f=1" + T.encode())
case("vertical tab before time", b"m,device=d1 f=1\x0b1")

# Several lines with one bad (InfluxDB keeps the good ones; Millwright keeps none)
case("good then bad line", L + "f=1 1\n" + L + "f=x 2\n")
case("bad then good line", L + "f=x 1\n" + L + "f=2 2\n")
case("good line and missing device", L + "f=1 1\nm,line=3 f=2 2\n")
case("two devices", "m,device=d1 f=1 1\nm,device=d2 f=2 2\n")
case("same point twice", L + "f=1 1\n" + L + "f=2 1\n")
case("same point other field", L + "f=1 1\n" + L + "g=2 1\n")

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.json"), "w") as out:
    json.dump(cases, out, indent=1, ensure_ascii=True)
    out.write("\n")
print(f"{len(cases)} bodies")
