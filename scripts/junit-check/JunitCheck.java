// Checks that JUnit XML files are ones Jenkins' JUnit plugin can read, the way it reads them:
//  1. the JDK's own SAX parser (the parser family Jenkins parses reports with) must accept each
//     file as well-formed XML 1.0, whose root is <testsuites> or <testsuite>;
//  2. each file must be valid against output-profile.xsd beside this file: shardkit's output
//     profile, loose on structure (any extra element or attribute), strict on the values
//     consumers compute with (plain decimal seconds, non-negative counts, a name on every case).
//
// Run with the JDK's source launcher: java JunitCheck.java FILE...
// Prints one line per file ("FILE: ok" or "FILE:LINE:COLUMN: what is wrong") and exits 0 when
// every file passes, 1 when one does not, 2 on a usage error.
//
// java JunitCheck.java --cases FILE... prints instead the test cases the JDK's parser reads in
// each file, as Jenkins' JUnit plugin takes them (elements and attributes by their local names):
// one line per <testcase>, "classname<TAB>name<TAB>status" (passed, failed, errored or
// skipped).
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.XMLConstants;
import javax.xml.parsers.SAXParser;
import javax.xml.parsers.SAXParserFactory;
import javax.xml.transform.stream.StreamSource;
import javax.xml.validation.Schema;
import javax.xml.validation.SchemaFactory;
import javax.xml.validation.Validator;
import org.xml.sax.Attributes;
import org.xml.sax.ErrorHandler;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;
import org.xml.sax.helpers.DefaultHandler;

public class JunitCheck {
    /** Remembers the root element's name; any error stops the parse. */
    static final class Root extends DefaultHandler {
        String name;

        @Override
        public void startElement(String uri, String local, String qName, Attributes attrs) {
            if (name == null) {
                name = local.isEmpty() ? qName : local;
            }
        }

        @Override
        public void warning(SAXParseException e) {}

        @Override
        public void error(SAXParseException e) throws SAXException {
            throw e;
        }
    }

    /** Collects every schema violation of one file, not just the first. */
    static final class Collect implements ErrorHandler {
        final List<String> problems = new ArrayList<>();
        final String file;

        Collect(String file) {
            this.file = file;
        }

        private void add(SAXParseException e) {
            problems.add(where(file, e) + ": " + e.getMessage());
        }

        @Override
        public void warning(SAXParseException e) {}

        @Override
        public void error(SAXParseException e) {
            add(e);
        }

        @Override
        public void fatalError(SAXParseException e) {
            add(e);
        }
    }

    static String where(String file, SAXParseException e) {
        return file + ":" + e.getLineNumber() + ":" + e.getColumnNumber();
    }

    /** The test cases of a report, as Jenkins reads them. */
    static final class Cases extends DefaultHandler {
        final List<String> lines = new ArrayList<>();
        int depth;
        int caseDepth = -1;
        String classname;
        String name;
        String status;

        @Override
        public void startElement(String uri, String local, String qName, Attributes attrs) {
            String element = local.isEmpty() ? qName : local;
            depth++;
            if (caseDepth < 0 && element.equals("testcase")) {
                caseDepth = depth;
                classname = value(attrs, "classname");
                name = value(attrs, "name");
                status = "passed";
            } else if (caseDepth == depth - 1 && status.equals("passed")) {
                switch (element) {
                    case "failure" -> status = "failed";
                    case "error" -> status = "errored";
                    case "skipped" -> status = "skipped";
                    default -> {}
                }
            }
        }

        @Override
        public void endElement(String uri, String local, String qName) {
            if (depth == caseDepth) {
                lines.add(classname + "\t" + name + "\t" + status);
                caseDepth = -1;
            }
            depth--;
        }

        /** The first attribute of this local name, in any namespace, as Jenkins reads it. */
        static String value(Attributes attrs, String name) {
            for (int i = 0; i < attrs.getLength(); i++) {
                String local = attrs.getLocalName(i);
                if (name.equals(local.isEmpty() ? attrs.getQName(i) : local)) {
                    return attrs.getValue(i);
                }
            }
            return "";
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: java JunitCheck.java [--cases] FILE...");
            System.exit(2);
        }
        if (args[0].equals("--cases")) {
            SAXParserFactory parsers = SAXParserFactory.newInstance();
            parsers.setNamespaceAware(true);
            parsers.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            boolean allRead = true;
            for (int i = 1; i < args.length; i++) {
                Cases cases = new Cases();
                try {
                    parsers.newSAXParser().parse(new File(args[i]), cases);
                    cases.lines.forEach(System.out::println);
                } catch (SAXParseException e) {
                    System.out.println(where(args[i], e) + ": not well-formed XML 1.0: " + e.getMessage());
                    allRead = false;
                }
            }
            System.exit(allRead ? 0 : 1);
        }
        Path here = Path.of(JunitCheck.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        File xsd = findSchema(here);
        SchemaFactory schemas = SchemaFactory.newInstance(XMLConstants.W3C_XML_SCHEMA_NS_URI);
        Schema schema = schemas.newSchema(xsd);
        SAXParserFactory parsers = SAXParserFactory.newInstance();
        parsers.setNamespaceAware(true);
        parsers.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        boolean allOk = true;
        for (String file : args) {
            List<String> problems = check(file, parsers, schema);
            if (problems.isEmpty()) {
                System.out.println(file + ": ok");
            } else {
                allOk = false;
                problems.forEach(System.out::println);
            }
        }
        System.exit(allOk ? 0 : 1);
    }

    /** output-profile.xsd: beside this source file, or named by JUNIT_CHECK_SCHEMA. */
    static File findSchema(Path here) {
        String named = System.getenv("JUNIT_CHECK_SCHEMA");
        if (named != null && !named.isEmpty()) {
            return new File(named);
        }
        Path dir = here.toFile().isDirectory() ? here : here.getParent();
        return dir.resolve("output-profile.xsd").toFile();
    }

    static List<String> check(String file, SAXParserFactory parsers, Schema schema) {
        List<String> problems = new ArrayList<>();
        File f = new File(file);
        if (!f.isFile()) {
            problems.add(file + ": not a readable file");
            return problems;
        }
        if (f.length() == 0) {
            problems.add(file + ":1:1: empty file (Jenkins shows it as a failed case \"[empty]\")");
            return problems;
        }
        Root root = new Root();
        try {
            SAXParser parser = parsers.newSAXParser();
            parser.parse(f, root);
        } catch (SAXParseException e) {
            problems.add(where(file, e) + ": not well-formed XML 1.0: " + e.getMessage());
            return problems;
        } catch (Exception e) {
            problems.add(file + ": cannot be parsed: " + e);
            return problems;
        }
        if (!"testsuites".equals(root.name) && !"testsuite".equals(root.name)) {
            problems.add(file + ":1:1: the root element is <" + root.name + ">, not <testsuites> or <testsuite>");
            return problems;
        }
        Collect collect = new Collect(file);
        try {
            Validator validator = schema.newValidator();
            validator.setErrorHandler(collect);
            validator.validate(new StreamSource(f));
        } catch (Exception e) {
            collect.problems.add(file + ": schema validation stopped: " + e.getMessage());
        }
        return collect.problems;
    }
}
