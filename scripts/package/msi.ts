/**
 * A per-machine x64 MSI for SCCM and Intune, built with wixl (msitools): the
 * executable into Program Files\ClientBootstrap, client-bootstrap.json beside
 * it when given, and ProgramData\ClientBootstrap created empty. A newer MSI
 * replaces an older one (MajorUpgrade: one UpgradeCode, a ProductCode per version).
 *
 * The MSI installs files only. Registration is its own step, run by the
 * deployment after the install (see the README): an MSI custom action can
 * only report "failed" (1603), which would hide the agent's exit code from
 * the deployment tool, and its retry codes with it. The agent sets the
 * protected DACL on ProgramData\ClientBootstrap itself when it first runs as
 * SYSTEM (wixl has no LockPermissions table support to do it here).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MsiInput {
  readonly exe: string;
  readonly config?: string;
  readonly version: string;
  readonly outDir: string;
  readonly work: string;
}

/** Stable across versions: lets a newer MSI replace an older one. */
const UPGRADE_CODE = 'B6E0C5A2-3E7D-4F7A-9C55-1C8A2F4D6E01';

/** A GUID derived from text, so the same inputs give the same MSI tables. */
export function guidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function xmlAttr(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** The WiX source wixl reads (pure, for the tests). */
export function wxsSource(input: { version: string; hasConfig: boolean }): string {
  const v = xmlAttr(input.version);
  const config = input.hasConfig
    ? `
          <Component Id="Config" Guid="${guidFrom('client-bootstrap config component')}" Win64="yes">
            <File Id="ConfigFile" Name="client-bootstrap.json" Source="client-bootstrap.json" KeyPath="yes"/>
          </Component>`
    : '';
  return `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="${guidFrom(`client-bootstrap product ${input.version}`)}" Name="Client Bootstrap" Language="1033"
           Version="${v}" Manufacturer="Client Bootstrap" UpgradeCode="${UPGRADE_CODE}">
    <Package Id="${guidFrom(`client-bootstrap package ${input.version} ${String(input.hasConfig)}`)}"
             Description="Client Bootstrap registration agent" Manufacturer="Client Bootstrap"
             InstallerVersion="500" Compressed="yes" InstallScope="perMachine"/>
    <MajorUpgrade DowngradeErrorMessage="A newer version of Client Bootstrap is already installed."/>
    <Media Id="1" Cabinet="client-bootstrap.cab" EmbedCab="yes"/>
    <Property Id="ARPNOMODIFY" Value="1"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="ClientBootstrap">
          <Component Id="Agent" Guid="${guidFrom('client-bootstrap agent component')}" Win64="yes">
            <File Id="AgentExe" Name="client-bootstrap.exe" Source="client-bootstrap.exe" KeyPath="yes"/>
          </Component>${config}
        </Directory>
      </Directory>
      <Directory Id="CommonAppDataFolder">
        <Directory Id="DATADIR" Name="ClientBootstrap">
          <Component Id="Data" Guid="${guidFrom('client-bootstrap data component')}" Win64="yes">
            <CreateFolder/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Agent" Level="1">
      <ComponentRef Id="Agent"/>${input.hasConfig ? '\n      <ComponentRef Id="Config"/>' : ''}
      <ComponentRef Id="Data"/>
    </Feature>
  </Product>
</Wix>
`;
}

/** Builds dist/client-bootstrap-win-x64.msi and returns its path. */
export function buildMsi(input: MsiInput): string {
  mkdirSync(input.work, { recursive: true });
  copyFileSync(input.exe, join(input.work, 'client-bootstrap.exe'));
  if (input.config) copyFileSync(input.config, join(input.work, 'client-bootstrap.json'));
  const wxs = join(input.work, 'client-bootstrap.wxs');
  writeFileSync(wxs, wxsSource({ version: input.version, hasConfig: Boolean(input.config) }));
  const out = join(input.outDir, 'client-bootstrap-win-x64.msi');
  execFileSync('wixl', ['-a', 'x64', '-o', out, wxs], {
    cwd: input.work,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return out;
}
