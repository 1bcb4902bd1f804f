/*
 * ProcessPrng for Wine releases that lack bcryptprimitives.dll (Debian 12 ships Wine 8.0).
 * Rust's standard library on Windows takes its random bytes (HashMap seeds) from
 * bcryptprimitives!ProcessPrng, so without this a Windows test binary does not even start
 * under such a Wine. Only scripts/test-windows.sh builds it, with mingw-w64, into the test
 * Wine prefix; nothing that ships uses it. The bytes come from advapi32's RtlGenRandom
 * (SystemFunction036), which Wine implements from the host's random source.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
