package io.maglevlb.core.maglev;

/** Primality for table sizes (at most a few million): trial division is exact and fast enough. */
public final class Primes {
    private Primes() {}

    public static boolean isPrime(long n) {
        if (n < 2) {
            return false;
        }
        if (n % 2 == 0) {
            return n == 2;
        }
        if (n % 3 == 0) {
            return n == 3;
        }
        for (long d = 5; d * d <= n; d += 6) {
            if (n % d == 0 || n % (d + 2) == 0) {
                return false;
            }
        }
        return true;
    }

    /** The smallest prime >= {@code n}; used to suggest a valid size in error messages. */
    public static long nextPrime(long n) {
        long c = Math.max(2, n);
        while (!isPrime(c)) {
            c++;
        }
        return c;
    }
}
