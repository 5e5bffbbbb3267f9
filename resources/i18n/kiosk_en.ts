<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name>ErrorWords</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/errors.py" line="+566"/>
        <source>%n tries left before the card locks the PIN.</source>
        <translation>
            <numerusform>%n try left before the card locks the PIN.</numerusform>
            <numerusform>%n tries left before the card locks the PIN.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>PinPad</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/keypads.py" line="+101"/>
        <source>%n of %1 digits entered</source>
        <translation>
            <numerusform>%n of %1 digits entered</numerusform>
            <numerusform>%n of %1 digits entered</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>PinScreen</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/screens/entry.py" line="+394"/>
        <source>%n tries left</source>
        <translation>
            <numerusform>%n try left</numerusform>
            <numerusform>%n tries left</numerusform>
        </translation>
    </message>
</context>
</TS>
