// spk::fint (hls/cpp/nnet_spiking_types.h, the C-simulation integer types) against ap_int /
// ap_uint: every operator the type offers, on random and edge operands, for widths 1..64, signed
// and unsigned, with fint, builtin and ap operands. Prints "ok N" (N comparisons) or the first
// mismatches and exits 1. Built and run by tests/test_fast_types.py.
#include <cstdio>
#include <cstdlib>

#include "nnet_spiking_types.h"

typedef __int128 i128;
typedef unsigned __int128 u128;

static unsigned long long g_checks = 0, g_fail = 0;
static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;
static unsigned long long rnd() { // splitmix64
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// the low 128 bits of an ap value (sign-extended) and of a fint value
template <int W, bool S> struct apbits {
    static u128 get(const ap_int_base<W, S> &r) {
        if (W <= 64)
            return S ? (u128)(i128)r.to_int64() : (u128)r.to_uint64();
        ap_int_base<W, S> t = r;
        const unsigned long long lo = ap_uint<64>(t).to_uint64();
        t >>= 64;
        const long long hi = S ? ap_int<64>(t).to_int64() : (long long)ap_uint<64>(t).to_uint64();
        return ((u128)(unsigned long long)hi << 64) | lo;
    }
};
template <int W, bool S> u128 bits(const ap_int_base<W, S> &r) { return apbits<W, S>::get(r); }
template <int W, bool S> u128 bits(const spk::fint<W, S> &r) { return S ? (u128)(i128)r.V : (u128)r.V; }
template <int W, bool S> int width_of(const ap_int_base<W, S> &) { return W; }
template <int W, bool S> int width_of(const spk::fint<W, S> &) { return W; }
template <int W, bool S> bool sign_of(const ap_int_base<W, S> &) { return S; }
template <int W, bool S> bool sign_of(const spk::fint<W, S> &) { return S; }

static void report(const char *what, int w1, bool s1, int w2, bool s2, unsigned long long a, unsigned long long b, u128 got,
                   u128 want) {
    g_fail++;
    if (g_fail <= 20)
        std::printf("MISMATCH %s: <%d,%c> <%d,%c> a=%llx b=%llx fint=%llx:%llx ap=%llx:%llx\n", what, w1, s1 ? 's' : 'u', w2,
                    s2 ? 's' : 'u', a, b, (unsigned long long)(got >> 64), (unsigned long long)got,
                    (unsigned long long)(want >> 64), (unsigned long long)want);
}

// a fint result and an ap result agree in width, signedness and value
#define SAME(what, F, A)                                                                                              \
    do {                                                                                                              \
        g_checks++;                                                                                                   \
        const u128 gf = bits(F), ga = bits(A);                                                                        \
        if (gf != ga || width_of(F) != width_of(A) || sign_of(F) != sign_of(A))                                       \
            report(what, W1, S1, W2, S2, ra, rb, gf, ga);                                                             \
    } while (0)
#define SAME_BOOL(what, F, A)                                                                                         \
    do {                                                                                                              \
        g_checks++;                                                                                                   \
        const bool gf = (F), ga = (A);                                                                                \
        if (gf != ga)                                                                                                 \
            report(what, W1, S1, W2, S2, ra, rb, gf, ga);                                                             \
    } while (0)
#define SAME_INT(what, F, A)                                                                                          \
    do {                                                                                                              \
        g_checks++;                                                                                                   \
        const u128 gf = (u128)(i128)(F), ga = (u128)(i128)(A);                                                        \
        if (gf != ga)                                                                                                 \
            report(what, W1, S1, W2, S2, ra, rb, gf, ga);                                                             \
    } while (0)

template <int W, bool S> struct ap_of { typedef ap_int<W> type; };
template <int W> struct ap_of<W, false> { typedef ap_uint<W> type; };

// a raw 64-bit pattern: random, or an edge value of width W
template <int W> unsigned long long operand(int k) {
    const unsigned long long r = rnd();
    switch (k % 8) {
    case 0: return 0;
    case 1: return 1;
    case 2: return ~0ULL;
    case 3: return 1ULL << (W - 1); // the sign bit
    case 4: return W >= 64 ? ~0ULL >> 1 : (1ULL << (W - 1)) - 1;
    case 5: return r >> (rnd() % 64); // small magnitudes
    default: return r;
    }
}

// one width / signedness on its own: construction, conversions, unary, bits, shifts
template <int W1, bool S1> void unary(int n) {
    const int W2 = 0;
    const bool S2 = false;
    typedef spk::fint<W1, S1> F;
    typedef typename ap_of<W1, S1>::type A;
    for (int k = 0; k < n; k++) {
        const unsigned long long ra = operand<W1>(k), rb = 0;
        const long long sa = (long long)ra;
        F f = sa;
        A a = sa;
        SAME("ctor(long long)", f, a);
        F fu = ra;
        A au = ra;
        SAME("ctor(ull)", fu, au);
        F fi = (int)sa;
        A ai = (int)sa;
        SAME("ctor(int)", fi, ai);
        F fb = (unsigned)ra;
        A ab = (unsigned)ra;
        SAME("ctor(unsigned)", fb, ab);
        F fs = (short)sa;
        A as = (short)sa;
        SAME("ctor(short)", fs, as);
        F fc = (signed char)sa;
        A ac = (signed char)sa;
        SAME("ctor(signed char)", fc, ac);
        F fbool = (bool)(ra & 1);
        A abool = (bool)(ra & 1);
        SAME("ctor(bool)", fbool, abool);
        F from_ap = a; // ap -> fint
        SAME("ctor(ap)", from_ap, a);
        A to_ap = f; // fint -> ap
        SAME("to ap", to_ap, a);
        ap_int<W1 + 3> to_wider_ap = f;
        ap_int<W1 + 3> a_wider = a;
        SAME("to wider ap_int", to_wider_ap, a_wider);
        ap_uint<(W1 > 2 ? W1 - 2 : 1)> to_narrow_ap = f;
        ap_uint<(W1 > 2 ? W1 - 2 : 1)> a_narrow = a;
        SAME("to narrower ap_uint", to_narrow_ap, a_narrow);
        SAME_INT("to_int", f.to_int(), a.to_int());
        SAME_INT("to_uint", f.to_uint(), a.to_uint());
        SAME_INT("to_int64", f.to_int64(), a.to_int64());
        SAME_INT("to_uint64", f.to_uint64(), a.to_uint64());
        SAME_INT("to_long", f.to_long(), a.to_long());
        SAME_INT("implicit", (long long)f, (long long)a);
        SAME_INT("implicit unsigned", (unsigned long long)f, (unsigned long long)a);
        SAME_BOOL("to_bool", f.to_bool(), a.to_bool());
        SAME_BOOL("!", !f, !a);
        SAME_BOOL("if", f ? true : false, a ? true : false);
        SAME("unary -", -f, -a);
        SAME("unary +", +f, +a);
        SAME("~", ~f, ~a);
        {
            F g = f;
            A h = a;
            SAME("++pre", ++g, ++h);
            SAME("++pre value", g, h);
            SAME("post++", g++, h++);
            SAME("post++ value", g, h);
            SAME("--pre", --g, --h);
            SAME("post--", g--, h--);
            SAME("post-- value", g, h);
        }
        // other widths from this one
        spk::fint<(W1 > 1 ? W1 - 1 : 1), !S1> f_n = f;
        typename ap_of<(W1 > 1 ? W1 - 1 : 1), !S1>::type a_n = a;
        SAME("to narrower fint", f_n, a_n);
        spk::fint<W1 + 5, S1> f_w = f;
        typename ap_of<W1 + 5, S1>::type a_w = a;
        SAME("to wider fint", f_w, a_w);
        spk::fint<W1, !S1> f_x = f;
        typename ap_of<W1, !S1>::type a_x = a;
        SAME("to other sign", f_x, a_x);
        // bits
        for (int i = 0; i < W1; i++) {
            SAME_BOOL("[i] read", f[i], (bool)a[i]);
            SAME_BOOL("test", f.test(i), a.test(i));
            F g = f;
            A h = a;
            const bool v = (rnd() & 1) != 0;
            g[i] = v;
            h[i] = v;
            SAME("[i] = b", g, h);
            g[i] = 1;
            h[i] = 1;
            SAME("[i] = 1", g, h);
            g[i] = 0;
            h[i] = 0;
            SAME("[i] = 0", g, h);
        }
        for (int t = 0; t < 4; t++) {
            const int lo = (int)(rnd() % W1), hi = lo + (int)(rnd() % (W1 - lo));
            const ap_uint<W1> ar = a.range(hi, lo);
            const spk::fint<W1, false> fr = f.range(hi, lo);
            SAME("range read", fr, ar);
            const ap_uint<W1> fr_ap = f.range(hi, lo);
            SAME("range read as ap_uint", fr_ap, ar);
            F g = f;
            A h = a;
            const unsigned long long v = rnd();
            g.range(hi, lo) = v;
            h.range(hi, lo) = v;
            SAME("range write", g, h);
        }
        // shifts by builtins (amounts 0 .. min(W + 2, 63)) and by ap / fint amounts
        const int max_sh = W1 + 2 < 63 ? W1 + 2 : 63;
        for (int sh = 0; sh <= max_sh; sh++) {
            SAME("<< int", f << sh, a << sh);
            SAME(">> int", f >> sh, a >> sh);
            SAME("<< unsigned", f << (unsigned)sh, a << (unsigned)sh);
            SAME(">> unsigned", f >> (unsigned)sh, a >> (unsigned)sh);
            SAME("<< -int", f << -sh, a << -sh);
            SAME(">> -int", f >> -sh, a >> -sh);
            const ap_uint<7> ash = sh;
            const spk::fint<7, false> fsh = sh;
            SAME("<< ap_uint<7>", f << fsh, a << ash);
            SAME(">> ap_uint<7>", f >> fsh, a >> ash);
            const ap_int<8> asn = -sh;
            const spk::fint<8, true> fsn = -sh;
            SAME("<< ap_int<8> negative", f << fsn, a << asn);
            SAME(">> ap_int<8> negative", f >> fsn, a >> asn);
            F g = f;
            A h = a;
            g <<= sh;
            h <<= sh;
            SAME("<<=", g, h);
            g = f;
            h = a;
            g >>= sh;
            h >>= sh;
            SAME(">>=", g, h);
        }
    }
}

// two widths / signednesses: the binary operators, comparisons, compound assignment, mixed with
// ap operands and builtins
template <int W1, bool S1, int W2, bool S2> void binary(int n) {
    typedef spk::fint<W1, S1> F1;
    typedef spk::fint<W2, S2> F2;
    typedef typename ap_of<W1, S1>::type A1;
    typedef typename ap_of<W2, S2>::type A2;
    for (int k = 0; k < n; k++) {
        const unsigned long long ra = operand<W1>(k), rb = operand<W2>(k / 8 + k);
        const F1 f1 = ra;
        const F2 f2 = rb;
        const A1 a1 = ra;
        const A2 a2 = rb;
        SAME("+", f1 + f2, a1 + a2);
        SAME("-", f1 - f2, a1 - a2);
        SAME("*", f1 * f2, a1 * a2);
        SAME("&", f1 & f2, a1 & a2);
        SAME("|", f1 | f2, a1 | a2);
        SAME("^", f1 ^ f2, a1 ^ a2);
        SAME("fint + ap", f1 + a2, a1 + a2);
        SAME("ap + fint", a1 + f2, a1 + a2);
        SAME("fint - ap", f1 - a2, a1 - a2);
        SAME("ap * fint", a1 * f2, a1 * a2);
        SAME("(a + b) - a", (f1 + f2) - f1, (a1 + a2) - a1);
        typedef spk::fint<3, false> F3;
        typedef ap_uint<3> A3;
        SAME("(a & b) * 5", (f1 & f2) * F3(5), (a1 & a2) * A3(5));
        SAME("a - (a >> 1) + b", f1 - (f1 >> 1) + f2, a1 - (a1 >> 1) + a2);
        SAME_BOOL("==", f1 == f2, a1 == a2);
        SAME_BOOL("!=", f1 != f2, a1 != a2);
        SAME_BOOL("<", f1 < f2, a1 < a2);
        SAME_BOOL("<=", f1 <= f2, a1 <= a2);
        SAME_BOOL(">", f1 > f2, a1 > a2);
        SAME_BOOL(">=", f1 >= f2, a1 >= a2);
        SAME_BOOL("fint < ap", f1 < a2, a1 < a2);
        SAME_BOOL("ap >= fint", a1 >= f2, a1 >= a2);
        SAME_BOOL("== self", f1 == f1, a1 == a1);
        {
            F1 g = f1;
            A1 h = a1;
            g += f2;
            h += a2;
            SAME("+=", g, h);
            g -= f2;
            h -= a2;
            SAME("-=", g, h);
            g *= f2;
            h *= a2;
            SAME("*=", g, h);
            g &= f2;
            h &= a2;
            SAME("&=", g, h);
            g |= f2;
            h |= a2;
            SAME("|=", g, h);
            g ^= f2;
            h ^= a2;
            SAME("^=", g, h);
            g += a2; // an ap operand
            h += a2;
            SAME("+= ap", g, h);
            g = f2; // assignment from another width
            h = a2;
            SAME("= other fint", g, h);
        }
        // builtins on either side (ap: int = ap_int<32>, unsigned = ap_uint<32>, ...)
        const int bi = (int)rb;
        const unsigned bu = (unsigned)rb;
        const long long bl = (long long)rb;
        const unsigned long long bul = rb;
        const bool bb = (rb & 1) != 0;
        const short bs = (short)rb;
        SAME("+ int", f1 + bi, a1 + bi);
        SAME("int +", bi + f1, bi + a1);
        SAME("- unsigned", f1 - bu, a1 - bu);
        SAME("unsigned -", bu - f1, bu - a1);
        SAME("* long long", f1 * bl, a1 * bl);
        SAME("+ ull", f1 + bul, a1 + bul);
        SAME("& int", f1 & bi, a1 & bi);
        SAME("| unsigned", f1 | bu, a1 | bu);
        SAME("^ short", f1 ^ bs, a1 ^ bs);
        SAME("+ bool", f1 + bb, a1 + bb);
        SAME_BOOL("== int", f1 == bi, a1 == bi);
        SAME_BOOL("!= unsigned", f1 != bu, a1 != bu);
        SAME_BOOL("< long long", f1 < bl, a1 < bl);
        SAME_BOOL(">= ull", f1 >= bul, a1 >= bul);
        SAME_BOOL("int <", bi < f1, bi < a1);
        SAME_BOOL("unsigned >", bu > f1, bu > a1);
        SAME_BOOL("== 0", f1 == 0, a1 == 0);
        SAME_BOOL("!= 0u", f1 != 0u, a1 != 0u);
        {
            F1 g = f1;
            A1 h = a1;
            g += bi;
            h += bi;
            SAME("+= int", g, h);
            g -= bu;
            h -= bu;
            SAME("-= unsigned", g, h);
            g += 1;
            h += 1;
            SAME("+= 1", g, h);
            g = bi;
            h = bi;
            SAME("= int", g, h);
        }
    }
}

template <int W> void unary_both(int n) {
    unary<W, true>(n);
    unary<W, false>(n);
}
template <int W1, int W2> void binary_all_signs(int n) {
    binary<W1, true, W2, true>(n);
    binary<W1, true, W2, false>(n);
    binary<W1, false, W2, true>(n);
    binary<W1, false, W2, false>(n);
}
// every width of SPK_WIDTHS (default: all of 1..64) on its own, against a partner that cycles
// through 1..64 and (SPK_PARTNERS) against itself and a wide one
template <int... Ws> struct widths;
template <> struct widths<> {
    static void run(int) {}
};
template <int W, int... Ws> struct widths<W, Ws...> {
    static void run(int n) {
        unary_both<W>(n);
        binary_all_signs<W, (W * 37) % 64 + 1>(n);
#ifdef SPK_PARTNERS
        binary_all_signs<W, W>(n);
        binary_all_signs<W, 64 - W % 8>(n);
#endif
        widths<Ws...>::run(n);
    }
};
#ifndef SPK_WIDTHS
#define SPK_WIDTHS 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, \
    30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, \
    60, 61, 62, 63, 64
#endif

int main(int argc, char **argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 64;
    if (argc > 2)
        rng_state = std::strtoull(argv[2], 0, 10);
    widths<SPK_WIDTHS>::run(n);
    if (g_fail) {
        std::printf("FAILED %llu of %llu\n", g_fail, g_checks);
        return 1;
    }
    std::printf("ok %llu\n", g_checks);
    return 0;
}
