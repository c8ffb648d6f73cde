/* Test-only stand-in for bcryptprimitives.dll, used by `.ci/package --windows-run` when the local
 * wine (Debian 12 ships wine 8.0) has no bcryptprimitives.dll. Rust std (1.78+) imports
 * ProcessPrng from it for HashMap seeds; Windows 10+ has the real DLL, so this file is never
 * packaged. It fills the buffer from RtlGenRandom (advapi32!SystemFunction036), which wine has.
 * Built for x86_64 (wine64) and i686 (wine32) alike with -Wl,--kill-at: WINAPI is __stdcall on
 * i686, and without the flag the export is "ProcessPrng@8", which the importer does not find. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
