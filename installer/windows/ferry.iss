; Ferry's Windows installer (Inno Setup 6). Build on Windows, from the
; repository root, after `cargo build --release --target x86_64-pc-windows-msvc`
; (or -gnu: pass /DTarget=x86_64-pc-windows-gnu):
;   iscc /DVersion=0.1.0 installer\windows\ferry.iss
; -> target\installer\ferry-<version>-setup.exe. See installer/README.md.
;
; A per-user install by default (no administrator needed; the user may pick
; "all users" in the dialog). No auto-start entry is written here: Ferry
; writes the user's own Run key itself (`ferry autostart on`, on by default
; after the first setup), and the uninstaller turns it off again. Ferry's
; settings, journals and the synchronized folders are never removed.

#ifndef Version
  #error Pass the version: iscc /DVersion=X.Y.Z installer\windows\ferry.iss
#endif
#ifndef Target
  #define Target "x86_64-pc-windows-msvc"
#endif

[Setup]
AppId={{6F0C3E55-8B0B-4F57-9C2A-3E8F0D5A1F42}
AppName=Ferry
AppVersion={#Version}
AppPublisher=Ferry developers
AppComments=Keeps a folder in sync with a WebDAV server or another disk
DefaultDirName={autopf}\Ferry
DefaultGroupName=Ferry
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
LicenseFile=..\..\LICENSE
SetupIconFile=..\..\assets\ferry.ico
UninstallDisplayIcon={app}\ferry.ico
OutputDir=..\..\target\installer
OutputBaseFilename=ferry-{#Version}-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; A running Ferry holds ferry.exe open: ask it to close first.
CloseApplications=yes

[Files]
Source: "..\..\target\{#Target}\release\ferry.exe"; DestDir: "{app}"; Flags: ignoreversion
Source: "..\..\assets\ferry.ico"; DestDir: "{app}"
Source: "..\..\LICENSE"; DestDir: "{app}"; DestName: "LICENSE.txt"

[Icons]
; The Start menu entry starts Ferry (the tray and the daemon); started again
; while it runs, it opens the preferences.
Name: "{autoprograms}\Ferry"; Filename: "{app}\ferry.exe"; IconFilename: "{app}\ferry.ico"; Comment: "Keep a folder in sync with a WebDAV server or another disk"

[Run]
Filename: "{app}\ferry.exe"; Description: "Start Ferry"; Flags: nowait postinstall skipifsilent runhidden

[UninstallRun]
; Remove the user's Run key entry (it would point at a removed program).
Filename: "{app}\ferry.exe"; Parameters: "autostart off"; RunOnceId: "FerryAutostartOff"; Flags: runhidden waituntilterminated
