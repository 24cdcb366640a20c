// spikehls: the integer types of the spiking kernels, spk::int_t<W> / spk::uint_t<W>.
//
// Synthesis (__SYNTHESIS__) sees exactly ap_int<W> / ap_uint<W>: the aliases below are those
// types, so the synthesized code is the code C-simulated, types included.
//
// C-simulation (g++) compiles the same kernel source with spk::fint<W, S>, a plain integer of
// the smallest native width (8, 16, 32 or 64 bits) that holds W bits, kept in canonical form
// (sign-extended for signed, zero-extended for unsigned). It reproduces ap_int / ap_uint's
// semantics for every operation the kernels use, exactly:
//   * assignment and construction wrap to W bits (two's complement), as ap does;
//   * a binary operator's result has ap's width and signedness (ap_int_base::RType: plus, minus,
//     mult, logic), computed exactly in a native type wide enough for it (int, long
//     long or __int128), so chained expressions and compound assignments wrap where ap's do;
//   * comparisons follow ap_private's rules: exact for equal signs (every comparison the kernels
//     make), gcc-like for some mixed-sign ones (below, at the operators);
//   * builtin operands count as ap does (int = ap_int<32>, unsigned = ap_uint<32>, long long =
//     ap_int<64>, bool = ap_uint<1>, ...), ap_int / ap_uint operands as themselves;
//   * shifts keep the left operand's width, a negative signed amount shifts the other way;
//   * bit select (x[i], read and write), range(hi, lo), to_int() / to_uint() / to_int64() /
//     to_uint64(), implicit conversion to a 64-bit integer (ap's RetType) and to ap_int / ap_uint.
// Not provided (a compile error, never a silent difference): / and % (ap's mixed-sign division
// rules; the kernels divide plain unsigned only), operations with float / double.
// Widths above 64 stay ap_int / ap_uint (a kernel type is never that wide; the result of an
// operator may be, up to 128 bits, in __int128). tests/test_fast_types.py compares every operator
// against ap_int / ap_uint on random operands for widths 1..64.
// Why: ap_int's C-simulation model (ap_private) kept the hot loops scalar and spilled every
// temporary to the stack: 84 % of a VGG-16 C-simulation went to ap arithmetic. Define
// SPK_CSIM_AP_TYPES to C-simulate with ap_int / ap_uint themselves (tests compare the two builds).
#ifndef NNET_SPIKING_TYPES_H_
#define NNET_SPIKING_TYPES_H_

#include "ap_int.h"

#if defined(__SYNTHESIS__) || defined(SPK_CSIM_AP_TYPES)

namespace spk {
template <int W> struct int_type { typedef ap_int<W> type; };
template <int W> struct uint_type { typedef ap_uint<W> type; };
} // namespace spk

#else

#include <stdint.h>

#if defined(__GNUC__)
#define SPK_TYPES_INLINE inline __attribute__((always_inline))
#else
#define SPK_TYPES_INLINE inline
#endif

namespace spk {

template <int W, bool S> struct fint;

namespace detail {

typedef __int128 i128;
typedef unsigned __int128 u128;

template <bool C, class A, class B> struct pick { typedef A type; };
template <class A, class B> struct pick<false, A, B> { typedef B type; };

// storage: the smallest native integer of W bits
template <int W, bool S> struct store {
    typedef typename pick<(W <= 8), typename pick<S, int8_t, uint8_t>::type,
            typename pick<(W <= 16), typename pick<S, int16_t, uint16_t>::type,
            typename pick<(W <= 32), typename pick<S, int32_t, uint32_t>::type,
            typename pick<(W <= 64), typename pick<S, int64_t, uint64_t>::type,
            typename pick<S, i128, u128>::type>::type>::type>::type>::type type;
};
template <class T> struct unsigned_of;
template <> struct unsigned_of<int8_t> { typedef uint8_t type; };
template <> struct unsigned_of<uint8_t> { typedef uint8_t type; };
template <> struct unsigned_of<int16_t> { typedef uint16_t type; };
template <> struct unsigned_of<uint16_t> { typedef uint16_t type; };
template <> struct unsigned_of<int32_t> { typedef uint32_t type; };
template <> struct unsigned_of<uint32_t> { typedef uint32_t type; };
template <> struct unsigned_of<int64_t> { typedef uint64_t type; };
template <> struct unsigned_of<uint64_t> { typedef uint64_t type; };
template <> struct unsigned_of<i128> { typedef u128 type; };
template <> struct unsigned_of<u128> { typedef u128 type; };

// a signed native type that holds every value of W bits (signed or not) exactly: int up to 31
// bits, long long up to 63, __int128 beyond
template <int W> struct calc {
    typedef typename pick<(W <= 31), int, typename pick<(W <= 63), long long, i128>::type>::type type;
};

// x (any native integer; its low bits are what counts) wrapped to W bits, canonical form
template <int W, bool S, class X> SPK_TYPES_INLINE typename store<W, S>::type wrap(X x) {
    typedef typename store<W, S>::type T;
    typedef typename unsigned_of<T>::type U;
    const int B = int(sizeof(T)) * 8;
    const U u = (U)x; // modulo 2^B
    if (W == B)
        return (T)u;
    if (S)
        return (T)((T)(U)(u << (B - W)) >> (B - W)); // arithmetic shift of the sign bit down
    return (T)(u & (U)((U(1) << (W % B)) - 1));
}

// builtin integers as ap sees them: their ap width and signedness
template <class T> struct builtin {};
template <> struct builtin<bool> { static const int w = 1; static const bool s = false; };
template <> struct builtin<char> { static const int w = 8; static const bool s = char(-1) < 0; };
template <> struct builtin<signed char> { static const int w = 8; static const bool s = true; };
template <> struct builtin<unsigned char> { static const int w = 8; static const bool s = false; };
template <> struct builtin<short> { static const int w = 16; static const bool s = true; };
template <> struct builtin<unsigned short> { static const int w = 16; static const bool s = false; };
template <> struct builtin<int> { static const int w = 32; static const bool s = true; };
template <> struct builtin<unsigned int> { static const int w = 32; static const bool s = false; };
template <> struct builtin<long> { static const int w = int(sizeof(long)) * 8; static const bool s = true; };
template <> struct builtin<unsigned long> { static const int w = int(sizeof(long)) * 8; static const bool s = false; };
template <> struct builtin<long long> { static const int w = 64; static const bool s = true; };
template <> struct builtin<unsigned long long> { static const int w = 64; static const bool s = false; };

// the fint an operand stands for: itself, an ap_int_base of <= 64 bits, or a builtin integer
template <class T> struct as_fint { typedef fint<builtin<T>::w, builtin<T>::s> type; };
template <int W, bool S> struct as_fint<fint<W, S> > { typedef fint<W, S> type; };
template <int W, bool S> struct as_fint<ap_int_base<W, S> > { typedef fint<W, S> type; };
template <int W> struct as_fint<ap_int<W> > { typedef fint<W, true> type; };
template <int W> struct as_fint<ap_uint<W> > { typedef fint<W, false> type; };

#define SPK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SPK_MIN(a, b) ((a) < (b) ? (a) : (b))
// ap_int_base::RType
template <int W1, bool S1, int W2, bool S2> struct rtype {
    enum {
        mult_w = W1 + W2,
        mult_s = S1 || S2,
        plus_w = SPK_MAX(W1 + (S2 && !S1), W2 + (S1 && !S2)) + 1,
        plus_s = S1 || S2,
        minus_w = SPK_MAX(W1 + (S2 && !S1), W2 + (S1 && !S2)) + 1,
        minus_s = true,
        div_w = W1 + S2,
        div_s = S1 || S2,
        mod_w = SPK_MIN(W1, W2 + (!S2 && S1)),
        mod_s = S1,
        logic_w = SPK_MAX(W1 + (S2 && !S1), W2 + (S1 && !S2)),
        logic_s = S1 || S2,
        cmp_w = SPK_MAX(W1, W2) + 1 // a native type that holds both operands exactly
    };
};
#undef SPK_MAX
#undef SPK_MIN

} // namespace detail

// bit select of a fint: x[i] = b writes bit i, reading gives a bool
template <int W, bool S> struct fint_bit_ref {
    fint<W, S> &d;
    int i;
    SPK_TYPES_INLINE fint_bit_ref(fint<W, S> &d_, int i_) : d(d_), i(i_) {}
    SPK_TYPES_INLINE operator bool() const { return d.test(i); }
    SPK_TYPES_INLINE fint_bit_ref &operator=(bool b) {
        d.set_bit(i, b);
        return *this;
    }
    SPK_TYPES_INLINE fint_bit_ref &operator=(int b) { return *this = bool(b & 1); }
    SPK_TYPES_INLINE fint_bit_ref &operator=(unsigned b) { return *this = bool(b & 1); }
    SPK_TYPES_INLINE fint_bit_ref &operator=(const fint_bit_ref &o) { return *this = bool(o); }
    template <int W2> SPK_TYPES_INLINE operator ap_uint<W2>() const { return ap_uint<W2>((bool)*this); }
};

// range select of a fint: x.range(hi, lo) reads as an unsigned value of W bits, x.range(hi, lo) = v writes
template <int W, bool S> struct fint_range_ref {
    fint<W, S> &d;
    int hi, lo;
    SPK_TYPES_INLINE fint_range_ref(fint<W, S> &d_, int h, int l) : d(d_), hi(h), lo(l) {}
    SPK_TYPES_INLINE fint<W, false> get() const { return d.get_range(hi, lo); }
    SPK_TYPES_INLINE operator fint<W, false>() const { return get(); }
    SPK_TYPES_INLINE unsigned long long to_uint64() const { return get().to_uint64(); }
    template <int W2> SPK_TYPES_INLINE operator ap_uint<W2>() const { return ap_uint<W2>((ap_ulong)get().V); }
    template <class T> SPK_TYPES_INLINE fint_range_ref &operator=(const T &v) {
        d.set_range(hi, lo, typename detail::as_fint<T>::type(v));
        return *this;
    }
};

template <int W, bool S> struct fint {
    static_assert(W >= 1 && W <= 128, "spk::fint: 1 <= W <= 128 (a kernel type <= 64, an operator's result <= 128)");
    typedef typename detail::store<W, S>::type store_t;
    typedef typename detail::calc<W + 1>::type calc_t; // holds the value exactly
    typedef typename detail::pick<S, long long, unsigned long long>::type ret_t; // ap_int_base::RetType
    store_t V;

    fint() = default; // uninitialized, as an ap_int is (trivial: arrays cost nothing to declare)
    // builtins, wrapped to W bits
    SPK_TYPES_INLINE fint(bool x) : V(detail::wrap<W, S>((unsigned)x)) {}
    SPK_TYPES_INLINE fint(char x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(signed char x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(unsigned char x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(short x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(unsigned short x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(int x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(unsigned int x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(long x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(unsigned long x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(long long x) : V(detail::wrap<W, S>(x)) {}
    SPK_TYPES_INLINE fint(unsigned long long x) : V(detail::wrap<W, S>(x)) {}
    // another fint (any width): its value wrapped to W bits
    template <int W2, bool S2> SPK_TYPES_INLINE fint(const fint<W2, S2> &x) : V(detail::wrap<W, S>(x.V)) {}
    // an ap_int / ap_uint: its low 64 bits are all that a <= 64-bit fint keeps
    template <int W2, bool S2>
    SPK_TYPES_INLINE fint(const ap_int_base<W2, S2> &x) : V(detail::wrap<W, S>((unsigned long long)x.to_uint64())) {
        static_assert(W <= 64, "spk::fint from ap_int_base: W <= 64");
    }
    template <int W2, bool S2> SPK_TYPES_INLINE fint(const fint_range_ref<W2, S2> &r) : V(detail::wrap<W, S>(r.get().V)) {}
    // an ap_fixed / ap_ufixed: as ap_int<W> / ap_uint<W> converts it (its integer part, wrapped)
    template <int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
    SPK_TYPES_INLINE fint(const ap_fixed<W2, I2, Q2, O2, N2> &x)
        : V(detail::wrap<W, S>((unsigned long long)typename detail::pick<S, ap_int<W>, ap_uint<W> >::type(x).to_uint64())) {}
    template <int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
    SPK_TYPES_INLINE fint(const ap_ufixed<W2, I2, Q2, O2, N2> &x)
        : V(detail::wrap<W, S>((unsigned long long)typename detail::pick<S, ap_int<W>, ap_uint<W> >::type(x).to_uint64())) {}

    // the value, exactly
    SPK_TYPES_INLINE calc_t value() const { return (calc_t)V; }
    SPK_TYPES_INLINE operator ret_t() const { return (ret_t)V; }
    template <int W2> SPK_TYPES_INLINE operator ap_int<W2>() const {
        return S ? ap_int<W2>((ap_slong)V) : ap_int<W2>((ap_ulong)V);
    }
    template <int W2> SPK_TYPES_INLINE operator ap_uint<W2>() const {
        return S ? ap_uint<W2>((ap_slong)V) : ap_uint<W2>((ap_ulong)V);
    }
    SPK_TYPES_INLINE int to_int() const { return (int)V; }
    SPK_TYPES_INLINE unsigned to_uint() const { return (unsigned)V; }
    SPK_TYPES_INLINE long to_long() const { return (long)V; }
    SPK_TYPES_INLINE unsigned long to_ulong() const { return (unsigned long)V; }
    SPK_TYPES_INLINE long long to_int64() const { return (long long)V; }
    SPK_TYPES_INLINE unsigned long long to_uint64() const { return (unsigned long long)V; }
    SPK_TYPES_INLINE bool to_bool() const { return V != 0; }
    SPK_TYPES_INLINE double to_double() const { return (double)V; }
    SPK_TYPES_INLINE int length() const { return W; }
    SPK_TYPES_INLINE bool iszero() const { return V == 0; }

    // bits
    SPK_TYPES_INLINE bool test(int i) const {
        typedef typename detail::unsigned_of<store_t>::type U;
        return ((U)V >> i) & 1;
    }
    SPK_TYPES_INLINE void set_bit(int i, bool b) {
        typedef typename detail::unsigned_of<store_t>::type U;
        const U m = U(1) << i;
        V = detail::wrap<W, S>(b ? (U)((U)V | m) : (U)((U)V & (U)~m));
    }
    SPK_TYPES_INLINE fint_bit_ref<W, S> operator[](int i) { return fint_bit_ref<W, S>(*this, i); }
    SPK_TYPES_INLINE bool operator[](int i) const { return test(i); }
    SPK_TYPES_INLINE bool get_bit(int i) const { return test(i); }
    SPK_TYPES_INLINE fint<W, false> get_range(int hi, int lo) const {
        typedef typename detail::unsigned_of<store_t>::type U;
        const int n = hi - lo + 1;
        const U u = (U)V >> lo;
        return fint<W, false>(n >= int(sizeof(U)) * 8 ? u : (U)(u & (U)((U(1) << n) - 1)));
    }
    template <int W2, bool S2> SPK_TYPES_INLINE void set_range(int hi, int lo, const fint<W2, S2> &v) {
        typedef typename detail::unsigned_of<store_t>::type U;
        const int n = hi - lo + 1;
        const U field = n >= int(sizeof(U)) * 8 ? (U)~U(0) : (U)((U(1) << n) - 1);
        const U u = (U)((U)V & (U)~(U)(field << lo)) | (U)(((U)v.V & field) << lo);
        V = detail::wrap<W, S>(u);
    }
    SPK_TYPES_INLINE fint_range_ref<W, S> range(int hi, int lo) { return fint_range_ref<W, S>(*this, hi, lo); }
    SPK_TYPES_INLINE fint<W, false> range(int hi, int lo) const { return get_range(hi, lo); }
    SPK_TYPES_INLINE fint_range_ref<W, S> range() { return fint_range_ref<W, S>(*this, W - 1, 0); }
    SPK_TYPES_INLINE fint<W, false> range() const { return get_range(W - 1, 0); }

    // unary
    SPK_TYPES_INLINE fint operator+() const { return *this; }
    SPK_TYPES_INLINE fint<detail::rtype<1, false, W, S>::minus_w, true> operator-() const {
        typedef fint<detail::rtype<1, false, W, S>::minus_w, true> R;
        R r;
        r.V = detail::wrap<R::width, true>(-(typename R::calc_t)V);
        return r;
    }
    SPK_TYPES_INLINE bool operator!() const { return V == 0; }
    SPK_TYPES_INLINE fint operator~() const {
        fint r;
        r.V = detail::wrap<W, S>(~V);
        return r;
    }
    static const int width = W;
    static const bool sign_flag = S;

    // increment / decrement
    SPK_TYPES_INLINE fint &operator++() {
        V = detail::wrap<W, S>(value() + 1);
        return *this;
    }
    SPK_TYPES_INLINE fint &operator--() {
        V = detail::wrap<W, S>(value() - 1);
        return *this;
    }
    SPK_TYPES_INLINE const fint operator++(int) {
        const fint t = *this;
        ++*this;
        return t;
    }
    SPK_TYPES_INLINE const fint operator--(int) {
        const fint t = *this;
        --*this;
        return t;
    }

    // shifts (the width of the left operand; a negative signed amount shifts the other way)
    SPK_TYPES_INLINE fint shl(unsigned long long n) const {
        typedef typename detail::unsigned_of<store_t>::type U;
        fint r;
        r.V = n >= (unsigned long long)W ? store_t(0) : detail::wrap<W, S>((U)((U)V << n));
        return r;
    }
    SPK_TYPES_INLINE fint shr(unsigned long long n) const {
        fint r;
        if (n >= (unsigned long long)W)
            r.V = (S && V < 0) ? store_t(-1) : store_t(0);
        else
            r.V = (store_t)(V >> n); // arithmetic for signed (g++), logical for unsigned
        return r;
    }
};

template <int W, bool S> const int fint<W, S>::width;
template <int W, bool S> const bool fint<W, S>::sign_flag;

namespace detail {
// an operand as a fint: fints as they are, builtins and ap_int_base as ap would see them
template <class T> struct operand {
    typedef typename as_fint<T>::type type;
    static SPK_TYPES_INLINE type get(const T &x) { return type(x); }
};
template <int W, bool S> struct operand<fint<W, S> > {
    typedef fint<W, S> type;
    static SPK_TYPES_INLINE const type &get(const fint<W, S> &x) { return x; }
};
template <class T> struct is_operand { static const bool value = false; };
#define SPK_OPERAND(T) \
    template <> struct is_operand<T> { static const bool value = true; };
SPK_OPERAND(bool)
SPK_OPERAND(char)
SPK_OPERAND(signed char)
SPK_OPERAND(unsigned char)
SPK_OPERAND(short)
SPK_OPERAND(unsigned short)
SPK_OPERAND(int)
SPK_OPERAND(unsigned int)
SPK_OPERAND(long)
SPK_OPERAND(unsigned long)
SPK_OPERAND(long long)
SPK_OPERAND(unsigned long long)
#undef SPK_OPERAND
template <int W, bool S> struct is_operand<fint<W, S> > { static const bool value = true; };
template <int W, bool S> struct is_operand<ap_int_base<W, S> > { static const bool value = true; };
template <int W> struct is_operand<ap_int<W> > { static const bool value = true; };
template <int W> struct is_operand<ap_uint<W> > { static const bool value = true; };
template <class T> struct is_fint { static const bool value = false; };
template <int W, bool S> struct is_fint<fint<W, S> > { static const bool value = true; };

template <bool B, class T = void> struct enable_if {};
template <class T> struct enable_if<true, T> { typedef T type; };

// a binary operator applies when both sides are operands and at least one is a fint (otherwise
// it is ap's or the language's); bin_lazy has the result types only then (SFINAE, nothing else
// is instantiated for other operands)
template <class A, class B> struct applies {
    static const bool value = is_operand<A>::value && is_operand<B>::value && (is_fint<A>::value || is_fint<B>::value);
};

template <class A, class B> struct bin {
    typedef typename operand<A>::type FA;
    typedef typename operand<B>::type FB;
    typedef rtype<FA::width, FA::sign_flag, FB::width, FB::sign_flag> rt;
    typedef fint<rt::plus_w, rt::plus_s> plus;
    typedef fint<rt::minus_w, rt::minus_s> minus;
    typedef fint<rt::mult_w, rt::mult_s> mult;
    typedef fint<rt::logic_w, rt::logic_s> logic;
    typedef typename calc<rt::cmp_w>::type cmp_t;
};

template <bool OK, class A, class B> struct bin_lazy {};
template <class A, class B> struct bin_lazy<true, A, B> : bin<A, B> {};

template <class R, class C> SPK_TYPES_INLINE R make(C x) {
    R r;
    r.V = wrap<R::width, R::sign_flag>(x);
    return r;
}
} // namespace detail

#define SPK_BIN_OP(OP, KIND, EXPR)                                                                                   \
    template <class A, class B>                                                                                      \
    SPK_TYPES_INLINE typename detail::bin_lazy<detail::applies<A, B>::value, A, B>::KIND operator OP(                \
        const A &a, const B &b) {                                                                                    \
        typedef typename detail::bin<A, B>::KIND R;                                                                  \
        typedef typename detail::bin<A, B>::FA FA;                                                                   \
        typedef typename detail::bin<A, B>::FB FB;                                                                   \
        typedef typename detail::calc<(R::width > FA::width ? (R::width > FB::width ? R::width : FB::width)          \
                                                            : (FA::width > FB::width ? FA::width : FB::width)) +     \
                                      1>::type C; /* holds the result and both operands exactly */                   \
        const C x = (C)detail::operand<A>::get(a).V, y = (C)detail::operand<B>::get(b).V;                            \
        return detail::make<R>(EXPR);                                                                                \
    }
SPK_BIN_OP(+, plus, x + y)
SPK_BIN_OP(-, minus, x - y)
SPK_BIN_OP(*, mult, x * y)
SPK_BIN_OP(&, logic, x & y)
SPK_BIN_OP(|, logic, x | y)
SPK_BIN_OP(^, logic, x ^ y)
#undef SPK_BIN_OP

// comparisons, by ap_private's rules (ap_common.h / etc/ap_private.h, the <= 64-bit model):
//   == / !=: of equal widths, exact (W < 64); else both operands taken modulo 2^max(W1, W2, 32)
//   (an int operand is ap_int<32>);
//   < <= > >=: exact when the signs agree, when both widths are below 32, or when the unsigned
//   operand is the narrower; otherwise (gcc's rule for mixed signs) both are compared as unsigned
//   patterns of max(W1, W2) + 1 bits, so a negative signed operand is above every unsigned one.
namespace detail {
template <class A, class B> struct rel {
    typedef typename operand<A>::type FA;
    typedef typename operand<B>::type FB;
    enum {
        W1 = FA::width, W2 = FB::width, S1 = FA::sign_flag, S2 = FB::sign_flag,
        EQ_W = W1 > W2 ? (W1 > 32 ? W1 : 32) : (W2 > 32 ? W2 : 32),
        UNSIGNED_CMP = S1 != S2 && !(W1 < 32 && W2 < 32) && (S1 ? W2 >= W1 : W1 >= W2)
    };
    typedef typename calc<(W1 > W2 ? W1 : W2) + 1>::type C;
    static SPK_TYPES_INLINE bool eq(const A &a, const B &b) {
        // equal widths: both values taken to 64 bits (exact below 64 bits); else modulo 2^EQ_W, which
        // is exact equality when both widths are below EQ_W (|a - b| < 2^EQ_W)
        if ((W1 == W2 && W1 < 64) || (W1 < EQ_W && W2 < EQ_W))
            return (C)operand<A>::get(a).V == (C)operand<B>::get(b).V;
        const unsigned long long m = (W1 == W2 || EQ_W >= 64) ? ~0ULL : ((1ULL << (EQ_W % 64)) - 1);
        return (((unsigned long long)(long long)operand<A>::get(a).V ^ (unsigned long long)(long long)operand<B>::get(b).V) & m) == 0;
    }
    static SPK_TYPES_INLINE bool lt(const A &a, const B &b) {
        if (UNSIGNED_CMP)
            return (u128)(i128)operand<A>::get(a).V < (u128)(i128)operand<B>::get(b).V;
        return (C)operand<A>::get(a).V < (C)operand<B>::get(b).V;
    }
    static SPK_TYPES_INLINE bool gt(const A &a, const B &b) {
        if (UNSIGNED_CMP)
            return (u128)(i128)operand<A>::get(a).V > (u128)(i128)operand<B>::get(b).V;
        return (C)operand<A>::get(a).V > (C)operand<B>::get(b).V;
    }
};
} // namespace detail

#define SPK_REL_OP(OP, EXPR)                                                                                         \
    template <class A, class B>                                                                                      \
    SPK_TYPES_INLINE typename detail::enable_if<detail::applies<A, B>::value, bool>::type operator OP(const A &a,    \
                                                                                                      const B &b) {  \
        return EXPR;                                                                                                 \
    }
SPK_REL_OP(==, (detail::rel<A, B>::eq(a, b)))
SPK_REL_OP(!=, (!detail::rel<A, B>::eq(a, b)))
SPK_REL_OP(<, (detail::rel<A, B>::lt(a, b)))
SPK_REL_OP(>=, (!detail::rel<A, B>::lt(a, b)))
SPK_REL_OP(>, (detail::rel<A, B>::gt(a, b)))
SPK_REL_OP(<=, (!detail::rel<A, B>::gt(a, b)))
#undef SPK_REL_OP

// shifts: a fint on the left, any operand on the right
template <int W, bool S, class B>
SPK_TYPES_INLINE typename detail::enable_if<detail::is_operand<B>::value, fint<W, S> >::type operator<<(const fint<W, S> &a,
                                                                                                        const B &b) {
    const typename detail::operand<B>::type n = detail::operand<B>::get(b);
    return n.V < 0 ? a.shr(0ULL - (unsigned long long)(long long)n.V) : a.shl((unsigned long long)n.V);
}
template <int W, bool S, class B>
SPK_TYPES_INLINE typename detail::enable_if<detail::is_operand<B>::value, fint<W, S> >::type operator>>(const fint<W, S> &a,
                                                                                                        const B &b) {
    const typename detail::operand<B>::type n = detail::operand<B>::get(b);
    return n.V < 0 ? a.shl(0ULL - (unsigned long long)(long long)n.V) : a.shr((unsigned long long)n.V);
}

// compound assignment: the binary operator, wrapped to the left operand's width. For + - * & | ^
// the exact result wrapped to W bits is the result wrapped to its RType width and then to W
// (W <= that width): computed once, in a type that holds both operands.
#define SPK_ASSIGN_OP(AOP, OP)                                                                                       \
    template <int W, bool S, class B>                                                                                \
    SPK_TYPES_INLINE typename detail::enable_if<detail::is_operand<B>::value, fint<W, S> &>::type operator AOP(      \
        fint<W, S> &a, const B &b) {                                                                                 \
        typedef typename detail::operand<B>::type FB;                                                                \
        typedef typename detail::calc<(W > FB::width ? W : FB::width) + 1>::type C;                                  \
        a.V = detail::wrap<W, S>((C)a.V OP(C) detail::operand<B>::get(b).V);                                         \
        return a;                                                                                                    \
    }
SPK_ASSIGN_OP(+=, +)
SPK_ASSIGN_OP(-=, -)
SPK_ASSIGN_OP(&=, &)
SPK_ASSIGN_OP(|=, |)
SPK_ASSIGN_OP(^=, ^)
#undef SPK_ASSIGN_OP
// *= and the shifts: through the binary operator (a product may need twice the width)
#define SPK_ASSIGN_OP(AOP, OP)                                                                                       \
    template <int W, bool S, class B>                                                                                \
    SPK_TYPES_INLINE typename detail::enable_if<detail::is_operand<B>::value, fint<W, S> &>::type operator AOP(      \
        fint<W, S> &a, const B &b) {                                                                                 \
        a.V = detail::wrap<W, S>((a OP b).V);                                                                        \
        return a;                                                                                                    \
    }
SPK_ASSIGN_OP(*=, *)
SPK_ASSIGN_OP(<<=, <<)
SPK_ASSIGN_OP(>>=, >>)
#undef SPK_ASSIGN_OP

template <int W> struct int_type {
    typedef typename detail::pick<(W <= 64), fint<W, true>, ap_int<W> >::type type;
};
template <int W> struct uint_type {
    typedef typename detail::pick<(W <= 64), fint<W, false>, ap_uint<W> >::type type;
};

} // namespace spk

#endif // C-simulation types

namespace spk {
// spk::int_t<W> / spk::uint_t<W>: ap_int<W> / ap_uint<W> in synthesis, spk::fint<W, S> in C-simulation
template <int W> using int_t = typename int_type<W>::type;
template <int W> using uint_t = typename uint_type<W>::type;
} // namespace spk

#endif
