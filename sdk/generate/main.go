// Command generate writes the Python SDK of the image-prepuller package from its schema, offline:
//
//	go run . <schema.json> <output directory>
//
// The same generator `pulumi package gen-sdk` reaches through a language host, called directly:
// the language hosts that build here (v3.68.0) do not implement GeneratePackage. The schema
// refers only to its own types and pulumi.json#/..., so no other package's schema is loaded.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "pulumi-image-prepuller/sdk/generate"

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: generate <schema.json> <output directory>")
		os.Exit(2)
	}
	if err := generate(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "generate: %v\n", err)
		os.Exit(1)
	}
}

func generate(schemaPath, outDir string) error {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	// BindSpec validates against Pulumi's metaschema (ImportSpec would not).
	pkg, diags, err := schema.BindSpec(spec, ownTypesOnly{}, schema.ValidationOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	if diags.HasErrors() {
		return fmt.Errorf("%s: %s", schemaPath, diags.Error())
	}
	files, err := pygen.GeneratePackage(tool, pkg, map[string][]byte{}, ownTypesOnly{})
	if err != nil {
		return err
	}
	for name, content := range files {
		path := filepath.Join(outDir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ownTypesOnly is the schema loader: it refuses every other package, so that a reference to
// one (for example /kubernetes/v4.x/schema.json#/types/...) fails here instead of starting
// that package's plugin to read its schema.
type ownTypesOnly struct{}

func refuse(name string) error {
	return fmt.Errorf("the schema refers to package %q: use own types or pulumi.json#/Any so that generation needs no other plugin", name)
}

func (ownTypesOnly) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	return nil, refuse(name)
}

func (ownTypesOnly) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, refuse(d.Name)
}

func (ownTypesOnly) LoadPackageReference(name string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, refuse(name)
}

func (ownTypesOnly) LoadPackageReferenceV2(_ context.Context, d *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, refuse(d.Name)
}
